import { badRequest } from '../domain/errors';
import type { ChecksumAlgorithm } from '../domain/file';
import { checkFileId } from '../domain/ids';
import { checkName, queryMime } from '../domain/names-and-types';
import type { DirectMetadata, DirectRef } from '../domain/uploads/direct-start';
import type { Principal } from '../domain/principal';
import { query, type HttpEvent } from './request';

/** The requests of direct uploads (Companion's contract, as Uppy sends it), parsed. */

// A completion lists up to 10,000 parts, about 80 bytes each as Uppy sends them.
const MAX_JSON_BYTES = 1024 * 1024;
const MAX_PART_NUMBER = 10_000;

/** A JSON object body; anything else is a 400. */
export function readJsonBody(event: HttpEvent): Record<string, unknown> {
  const raw = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : '';
  if (raw.length > MAX_JSON_BYTES)
    throw badRequest(`The body must be at most ${MAX_JSON_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(raw.toString() || '{}');
  } catch {
    throw badRequest('The body must be JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('The body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw badRequest(`${field} must be a string`);
  return value;
}

/** A whole number from JSON or a query (Uppy's meta fields are often strings). */
function wholeNumber(value: unknown, field: string, max: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0 || number > max) {
    throw badRequest(`${field} must be a whole number up to ${max}`);
  }
  return number;
}

const ALGORITHMS: Record<string, ChecksumAlgorithm> = {
  crc32c: 'CRC32C',
  sha256: 'SHA256',
};

function checksumAlgorithm(value: unknown): ChecksumAlgorithm | undefined {
  const name = optionalString(value, 'metadata.checksum_algorithm');
  if (name === undefined) return undefined;
  const algorithm = ALGORITHMS[name.toLowerCase().replace('-', '')];
  if (!algorithm) throw badRequest('metadata.checksum_algorithm must be CRC32C or SHA256');
  return algorithm;
}

/** POST …/s3/multipart: `{filename, type, metadata}`. */
export function parseCreate(body: Record<string, unknown>) {
  const filename = optionalString(body['filename'], 'filename');
  const type = optionalString(body['type'], 'type');
  const meta = body['metadata'] ?? {};
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    throw badRequest('metadata must be a JSON object');
  }
  const metadata = meta as Record<string, unknown>;
  const fileId = optionalString(metadata['file_id'], 'metadata.file_id');
  const parsed: DirectMetadata = {
    size: wholeNumber(metadata['size'], 'metadata.size', Number.MAX_SAFE_INTEGER),
    fileId: fileId === undefined ? undefined : checkFileId(fileId),
    checksumAlgorithm: checksumAlgorithm(metadata['checksum_algorithm']),
    partSize: wholeNumber(metadata['part_size'], 'metadata.part_size', 5 * 1024 ** 3),
  };
  return {
    filename: filename === undefined ? undefined : checkName(filename, 'filename'),
    mime: type === undefined ? undefined : queryMime(type, 'type'),
    metadata: parsed,
  };
}

/** The upload a request names: `{upload_id}` in the path, `?key=` in the query. */
export function directRef(event: HttpEvent, principal: Principal, companyId: string): DirectRef {
  // Compared as it comes with the upload id recorded (S3's hold no characters to escape).
  return {
    principal,
    companyId,
    key: query(event)['key'],
    uploadId: event.pathParameters?.['upload_id'],
  };
}

/** A part number, 1..10000; `field` names it in the refusal. */
export function partNumber(raw: string | undefined, field = 'partNumber'): number {
  const number = /^\d{1,6}$/.test(raw ?? '') ? Number(raw) : NaN;
  if (!(number >= 1 && number <= MAX_PART_NUMBER)) {
    throw badRequest(`${field} must be a whole number from 1 to ${MAX_PART_NUMBER}`);
  }
  return number;
}

const CHECKSUM_FORMATS: Record<ChecksumAlgorithm, RegExp> = {
  CRC32C: /^[A-Za-z0-9+/]{6}==$/,
  SHA256: /^[A-Za-z0-9+/]{43}=$/,
};

/** What a part's signing may bind: `size` and `checksum_crc32c` or `checksum_sha256`. */
export function parsePartSigning(event: HttpEvent) {
  const q = query(event);
  const size = wholeNumber(q['size'], 'size', 5 * 1024 ** 3);
  const given = (['CRC32C', 'SHA256'] as const).flatMap((algorithm) => {
    const value = q[`checksum_${algorithm.toLowerCase()}`];
    return value === undefined ? [] : [{ algorithm, value }];
  });
  if (given.length > 1) throw badRequest('Send one of checksum_crc32c and checksum_sha256');
  // A '+' of base64 sent unencoded in a query arrives as a space; base64 holds none.
  const checksum = given[0] && { ...given[0], value: given[0].value.replaceAll(' ', '+') };
  if (checksum && !CHECKSUM_FORMATS[checksum.algorithm].test(checksum.value)) {
    throw badRequest(
      `checksum_${checksum.algorithm.toLowerCase()} must be the base64 of the part's ` +
        `${checksum.algorithm} (big-endian bytes)`,
    );
  }
  return { ...(size !== undefined && { size }), ...(checksum && { checksum }) };
}

/** `partNumbers=1,2,3` of the batch form. */
export function partNumbers(raw: string | undefined): number[] {
  const numbers = (raw ?? '').split(',').filter((part) => part !== '');
  if (numbers.length === 0 || numbers.length > 100) {
    throw badRequest('partNumbers must list 1 to 100 part numbers, comma-separated');
  }
  return [...new Set(numbers.map((number) => partNumber(number)))];
}

/** POST …/complete: `{parts: [{PartNumber, ETag}]}`, in ascending order as S3 requires. */
export function parseCompletedParts(body: Record<string, unknown>) {
  const parts = body['parts'];
  if (!Array.isArray(parts) || parts.length === 0 || parts.length > MAX_PART_NUMBER) {
    throw badRequest(`parts must list the uploaded parts (1 to ${MAX_PART_NUMBER})`);
  }
  let previous = 0;
  return parts.map((given: unknown, i) => {
    const entry = (typeof given === 'object' && given !== null ? given : {}) as Record<
      string,
      unknown
    >;
    const part = partNumber(String(entry['PartNumber'] ?? ''), `parts[${i}].PartNumber`);
    const etag = entry['ETag'];
    if (typeof etag !== 'string' || etag === '' || etag.length > 128) {
      throw badRequest(`parts[${i}].ETag must be the ETag S3 answered for the part`);
    }
    if (part <= previous)
      throw badRequest('parts must be in ascending PartNumber order, once each');
    previous = part;
    return { part, etag };
  });
}
