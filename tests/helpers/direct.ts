import { Crc32c } from '@aws-sdk/checksums/crc';
import { API, call, type ApiResponse } from './api';
import { bearer } from './principals';

/**
 * A client of the direct-upload routes, as Uppy's S3 plugin uses them: create, sign each part
 * and PUT it to S3, list the parts, complete or abort.
 */

export const MiB = 1024 * 1024;

export const multipartUrl = (company: string, rest = '') =>
  `${API()}/companies/${encodeURIComponent(company)}/s3/multipart${rest}`;

export interface Started {
  key: string;
  uploadId: string;
  file_id: string;
  resource: Record<string, unknown>;
}

export interface DirectResource {
  id: string;
  user_id: string | null;
  application_id: string | null;
  metadata: { name: string; mime: string; thumbnails_status?: string } | null;
  thumbnails: { index: number; type: string; width: number; height: number }[];
  upload_data: {
    size: number;
    chunks: number;
    status?: string;
    checksum?: { algorithm: string; value: string };
  } | null;
}

export function createDirect(
  company: string,
  token: string,
  body: { filename?: string; type?: string; metadata?: Record<string, unknown> } | string,
): Promise<ApiResponse<Started>> {
  return call<Started>(multipartUrl(company), {
    method: 'POST',
    headers: { ...bearer(token), 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Starts an upload and expects it to start. */
export async function started(
  company: string,
  token: string,
  body: { filename?: string; type?: string; metadata?: Record<string, unknown> },
): Promise<Started> {
  const created = await createDirect(company, token, body);
  expect(created.status).toBe(200);
  return created.body;
}

const keyQuery = (key: string) => `?key=${encodeURIComponent(key)}`;

export function signPart(
  company: string,
  token: string,
  upload: { key: string; uploadId: string },
  partNumber: number | string,
  extra = '',
): Promise<ApiResponse<{ url: string; expires: number; headers: Record<string, string> }>> {
  return call(
    multipartUrl(
      company,
      `/${encodeURIComponent(upload.uploadId)}/${partNumber}${keyQuery(upload.key)}${extra}`,
    ),
    { headers: bearer(token) },
  );
}

/** PUTs the bytes to the URL with the headers the signing answered; S3's status and ETag. */
export async function putPart(
  signed: { url: string; headers?: Record<string, string> },
  bytes: Uint8Array,
): Promise<{ status: number; etag: string | null; body: string }> {
  const response = await fetch(signed.url, {
    method: 'PUT',
    headers: signed.headers ?? {},
    body: bytes,
  });
  return {
    status: response.status,
    etag: response.headers.get('etag'),
    body: await response.text(),
  };
}

/** Signs and sends one part; expects both to succeed and returns its ETag. */
export async function sendPart(
  company: string,
  token: string,
  upload: { key: string; uploadId: string },
  partNumber: number,
  bytes: Uint8Array,
  extra = '',
): Promise<string> {
  const signed = await signPart(company, token, upload, partNumber, extra);
  expect(signed.status).toBe(200);
  const put = await putPart(signed.body, bytes);
  expect([put.status, put.body]).toEqual([200, '']);
  return put.etag!;
}

export function listParts(
  company: string,
  token: string,
  upload: { key: string; uploadId: string },
): Promise<ApiResponse<{ PartNumber: number; Size: number; ETag: string; Checksum?: string }[]>> {
  return call(
    multipartUrl(company, `/${encodeURIComponent(upload.uploadId)}${keyQuery(upload.key)}`),
    {
      headers: bearer(token),
    },
  );
}

export function complete(
  company: string,
  token: string,
  upload: { key: string; uploadId: string },
  parts: { PartNumber: number; ETag: string }[] | unknown,
  extra = '',
): Promise<ApiResponse<{ location: string; key: string; resource: DirectResource }>> {
  return call(
    multipartUrl(
      company,
      `/${encodeURIComponent(upload.uploadId)}/complete${keyQuery(upload.key)}${extra}`,
    ),
    {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ parts }),
    },
  );
}

export function abort(
  company: string,
  token: string,
  upload: { key: string; uploadId: string },
): Promise<ApiResponse> {
  return call(
    multipartUrl(company, `/${encodeURIComponent(upload.uploadId)}${keyQuery(upload.key)}`),
    {
      method: 'DELETE',
      headers: bearer(token),
    },
  );
}

/** The bytes cut into parts of `partSize`. */
export function partsOf(bytes: Uint8Array, partSize: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += partSize) {
    parts.push(bytes.subarray(at, at + partSize));
  }
  return parts;
}

/** A whole upload: every part signed and sent, `concurrency` at a time, then completed. */
export async function uploadDirect(
  company: string,
  token: string,
  file: { bytes: Uint8Array; name: string; type: string },
  { partSize = 5 * MiB, concurrency = 4, metadata = {}, query = '' } = {},
) {
  const upload = await started(company, token, {
    filename: file.name,
    type: file.type,
    metadata: { size: String(file.bytes.byteLength), ...metadata },
  });
  const parts = partsOf(file.bytes, partSize);
  const etags: string[] = new Array<string>(parts.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, parts.length) }, async () => {
      while (next < parts.length) {
        const i = next++;
        etags[i] = await sendPart(company, token, upload, i + 1, parts[i]!);
      }
    }),
  );
  const completed = await complete(
    company,
    token,
    upload,
    etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
    query,
  );
  return { upload, completed };
}

export async function crc32c(bytes: Uint8Array): Promise<string> {
  const crc = new Crc32c();
  crc.update(bytes);
  return Buffer.from(await crc.digest()).toString('base64');
}
