import { openFile, requireRole } from '../access';
import { MAX_PARTS, MIN_PART_BYTES } from '../assembly-plan';
import {
  MultipartRefused,
  badRequest,
  conflict,
  forbidden,
  notFound,
  tooLarge,
  type DomainError,
} from '../errors';
import {
  creatorOf,
  isCreator,
  type ChecksumAlgorithm,
  type Content,
  type FileRecord,
  type PendingUpload,
} from '../file';
import { keys, newFileId, newRevision } from '../ids';
import { nameAndMime } from '../incoming';
import { isGone } from '../lifecycle';
import type { HeldPart, StorageServices } from '../ports';
import type { Principal } from '../principal';
import { fileKey, revisionRef, type RevisionRef } from '../refs';
import { initialThumbnails } from '../thumbnails';
import { abortQuietly, discardUpload, dropRevision, purgeFile, refuse } from './cleanup';
import { REQUEST_CLAIM_MS } from './completion';
import { isStale, startAs } from './intake';
import { tooLargeFor } from './limits';

/**
 * Direct uploads: the client sends the bytes to S3 itself, part by part, to URLs this service
 * signs (the contract Uppy's S3 plugin speaks with Companion). The service still owns the
 * upload: it makes the file's record and the multipart upload of the revision's data key,
 * signs parts of that upload only for whoever may write the file, and completes it only once
 * the parts S3 holds fit the limit and the declared size. The record goes through the same
 * transitions as a chunked upload with no chunks (`total_chunks` 0), so everything after
 * completion (thumbnails, download, overwrite, delete, the sweeper) cannot tell them apart.
 */

/** S3's largest part. */
const MAX_PART_BYTES = 5 * 1024 ** 3;

/** What a client names an upload by: the key and upload id the create answered. */
export interface DirectRef {
  principal: Principal;
  companyId: string;
  key: string | undefined;
  uploadId: string | undefined;
}

/** What the create's `metadata` may say (Uppy sends the file's meta fields as they are). */
export interface DirectMetadata {
  /** The file's size in bytes: then enforced exactly. */
  size?: number;
  /** An existing file to upload into (overwrite, for applications). */
  fileId?: string;
  /** Every part must then carry its checksum, which S3 verifies. */
  checksumAlgorithm?: ChecksumAlgorithm;
  /** With `size`: every part has this size but the last, and its URL takes only that. */
  partSize?: number;
}

export interface DirectCreate {
  principal: Principal;
  companyId: string;
  filename: string | undefined;
  mime: string | undefined;
  metadata: DirectMetadata;
}

/** The parts an upload may have: the declared size in parts of at least 5 MiB, or 10,000. */
export function maxPartsOf(upload: Pick<PendingUpload, 'total_size' | 'part_size'>): number {
  if (!upload.total_size) return MAX_PARTS;
  const partSize = upload.part_size ?? MIN_PART_BYTES;
  return Math.min(MAX_PARTS, Math.max(1, Math.ceil(upload.total_size / partSize)));
}

/** The exact size of part n of an upload with a part size: every part's but the last. */
function pinnedSize(upload: PendingUpload, partNumber: number): number | undefined {
  const { part_size: partSize, total_size: total } = upload;
  if (!partSize) return undefined;
  return partNumber < maxPartsOf(upload) ? partSize : total - (maxPartsOf(upload) - 1) * partSize;
}

/** A part size the declared size can be cut into, within S3's limits. */
function checkPartSize(size: number, partSize: number): void {
  if (!size) throw badRequest('metadata.part_size needs metadata.size, the file size');
  if (partSize > MAX_PART_BYTES || (partSize < MIN_PART_BYTES && partSize < size)) {
    throw badRequest(
      'metadata.part_size must be from 5 MiB to 5 GiB (or the whole file, when smaller)',
    );
  }
  if (Math.ceil(size / partSize) > MAX_PARTS) {
    throw badRequest(`metadata.part_size cuts the file into more than ${MAX_PARTS} parts`);
  }
}

/** A new direct upload, its S3 multipart upload started on the revision's data key. */
async function newDirectUpload(
  s: StorageServices,
  file: Pick<FileRecord, 'company_id' | 'id'>,
  request: DirectCreate,
): Promise<PendingUpload> {
  const size = request.metadata.size ?? 0;
  if (size > s.limits.maxDirectFileBytes) {
    throw tooLargeFor(s.limits.maxDirectFileBytes, size);
  }
  const { partSize } = request.metadata;
  if (partSize !== undefined) checkPartSize(size, partSize);
  const revision = newRevision();
  const { name, mime } = nameAndMime(
    { filename: request.filename, mime: request.mime, thumbnailSync: false },
    undefined,
    { bytes: new Uint8Array() },
  );
  const algorithm = request.metadata.checksumAlgorithm;
  return {
    revision,
    name,
    mime,
    total_chunks: 0,
    total_size: size,
    started_at: s.now(),
    state: 'receiving',
    chunk_count: 0,
    multipart_id: await s.blobs.startMultipart(
      keys.data(file.company_id, file.id, revision),
      mime,
      algorithm,
    ),
    part_chunks: 0,
    direct: true,
    ...(algorithm && { checksum_algorithm: algorithm }),
    ...(partSize !== undefined && { part_size: partSize }),
  };
}

export interface DirectStarted {
  key: string;
  uploadId: string;
  record: FileRecord;
}

/** Creates a file (or, with `metadata.fileId`, a new revision of one) to be sent to S3. */
export async function createDirectUpload(
  s: StorageServices,
  request: DirectCreate,
): Promise<DirectStarted> {
  const { principal, companyId } = request;
  const fileId = request.metadata.fileId;
  if (fileId !== undefined) return uploadIntoFile(s, request, fileId);
  await requireRole(s, principal, companyId);
  const now = s.now();
  const file = { company_id: companyId, id: newFileId() };
  const upload = await newDirectUpload(s, file, request);
  const record: FileRecord = {
    ...file,
    ...creatorOf(principal),
    created_at: now,
    updated_at: now,
    upload,
  };
  const key = keys.data(companyId, file.id, upload.revision);
  if (!(await s.records.create(record)).ok) {
    await abortQuietly(s, key, upload.multipart_id);
    throw conflict('A file with this id already exists');
  }
  return { key, uploadId: upload.multipart_id, record };
}

/** A new revision of an existing file: its creator while it is empty, applications always. */
async function uploadIntoFile(
  s: StorageServices,
  request: DirectCreate,
  fileId: string,
): Promise<DirectStarted> {
  const { principal, companyId } = request;
  const { record } = await openFile(s, { principal, companyId, fileId });
  checkMayWrite(principal, record);
  if (principal.kind === 'user' && record.content) throw completeForUsers();
  const current = record.upload;
  const stale = isStale(s, current) ? current : undefined;
  if (current && !stale) throw uploadInProgress();
  const upload = await newDirectUpload(s, record, request);
  const key = keys.data(companyId, fileId, upload.revision);
  const started = await s.records.startUpload(
    fileKey(record),
    upload,
    startAs(s, principal, stale),
  );
  if (started.record?.upload?.revision !== upload.revision) {
    await abortQuietly(s, key, upload.multipart_id);
    if (isGone(started)) throw notFound('File not found');
    if (!started.ok && started.failed === 'noContent') throw completeForUsers();
    throw uploadInProgress();
  }
  // The upload replaced (direct or chunked): its parts and chunks go.
  if (stale) await discardUpload(s, record, stale);
  return { key, uploadId: upload.multipart_id, record: started.record };
}

const uploadInProgress = () =>
  conflict(
    'Another upload into this file is in progress: complete it (or abort it, if it is a ' +
      'direct upload) first',
  );
const completeForUsers = () =>
  forbidden('This file is complete: only applications can overwrite it');

/** Only the file's creator or an application writes into a file. */
function checkMayWrite(principal: Principal, record: FileRecord): void {
  if (principal.kind === 'user' && !isCreator(principal, record)) {
    throw forbidden("Only the file's creator or an application can upload into it");
  }
}

/**
 * An upload that can never complete as sent: cancelled and its parts dropped; a file that had
 * no content yet goes with it, as on abort (the client starts again with a new create).
 */
async function refuseDirect(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  error: DomainError,
): Promise<never> {
  if (record.content) return refuse(s, record, upload, error);
  // Marked deleting with its upload: the purge ends the upload in S3 too.
  await purgeFile(s, record.company_id, record.id);
  throw error;
}

/** `files/{company}/{file}/{revision}/data`, as the create answered it. */
const DATA_KEY =
  /^files\/([^/]+)\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/(r[0-9a-z]+)\/data$/;

const noSuchUpload = () =>
  notFound('No upload in progress has this key and upload id: create a new one');

/** The key's revision, checked to be a data key of the route's company. */
function revisionOf(ref: DirectRef): RevisionRef {
  if (!ref.key) throw badRequest('key is required: the key the create answered');
  if (!ref.uploadId) throw badRequest('The upload id is required');
  const match = DATA_KEY.exec(ref.key);
  if (!match) throw badRequest('key is not a key this service answered');
  const [, companyId = '', fileId = '', revision = ''] = match;
  if (companyId !== ref.companyId) throw noSuchUpload();
  return { companyId, fileId, revision };
}

/** The record, if the principal may write it; and its upload, if it is this one. */
async function openDirect(
  s: StorageServices,
  ref: DirectRef,
): Promise<{ record: FileRecord; revision: RevisionRef; upload: PendingUpload | undefined }> {
  const revision = revisionOf(ref);
  const { record } = await openFile(s, { ...ref, fileId: revision.fileId });
  checkMayWrite(ref.principal, record);
  const upload = record.upload;
  const ours =
    upload?.direct === true &&
    upload.revision === revision.revision &&
    upload.multipart_id === ref.uploadId;
  // An upload into complete content is an application's overwrite: no user's to touch.
  if (ours && ref.principal.kind === 'user' && record.content) throw completeForUsers();
  return { record, revision, upload: ours ? upload : undefined };
}

async function openUpload(s: StorageServices, ref: DirectRef) {
  const opened = await openDirect(s, ref);
  if (!opened.upload) throw noSuchUpload();
  return { ...opened, upload: opened.upload };
}

export interface PartRequest extends DirectRef {
  partNumber: number;
  /** The part's exact size, when the client says it: bound into the URL. */
  size?: number;
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

/** A URL for one part of the upload, valid for minutes. */
export async function signPart(s: StorageServices, request: PartRequest): Promise<SignedPart> {
  const { upload } = await openUpload(s, request);
  return signOpened(s, upload, request);
}

/** URLs for several parts (Companion's batch form), the upload opened once. */
export async function signParts(
  s: StorageServices,
  ref: DirectRef,
  partNumbers: number[],
): Promise<Map<number, SignedPart>> {
  const { upload } = await openUpload(s, ref);
  const signed = new Map<number, SignedPart>();
  for (const partNumber of partNumbers) {
    signed.set(partNumber, await signOpened(s, upload, { ...ref, partNumber }));
  }
  return signed;
}

export interface SignedPart {
  url: string;
  expires: number;
  headers: Record<string, string>;
}

async function signOpened(
  s: StorageServices,
  upload: PendingUpload,
  request: PartRequest,
): Promise<SignedPart> {
  if (upload.state === 'assembling') {
    throw conflict('This upload is being completed: its parts can no longer change');
  }
  const maxParts = maxPartsOf(upload);
  if (request.partNumber > maxParts) {
    throw badRequest(
      `partNumber ${request.partNumber} is beyond the ${maxParts} parts this upload may have ` +
        (upload.part_size
          ? `(${upload.total_size} bytes declared in parts of ${upload.part_size})`
          : upload.total_size
            ? `(${upload.total_size} bytes declared, every part but the last at least 5 MiB)`
            : '(S3 takes 10,000)'),
    );
  }
  const { checksum } = request;
  const pinned = pinnedSize(upload, request.partNumber);
  if (pinned !== undefined && request.size !== undefined && request.size !== pinned) {
    throw badRequest(`Part ${request.partNumber} of this upload holds ${pinned} bytes`);
  }
  const size = pinned ?? request.size;
  if (size !== undefined) checkSignedSize(upload, size);
  const algorithm = upload.checksum_algorithm;
  if (algorithm && checksum?.algorithm !== algorithm) {
    throw badRequest(`This upload checks every part's ${algorithm}: send it with the part`);
  }
  if (!algorithm && checksum) {
    throw badRequest(
      `This upload was created without a checksum algorithm: create it with ` +
        `metadata.checksum_algorithm=${checksum.algorithm} to send part checksums`,
    );
  }
  const ttl = s.limits.partUrlTtlSeconds;
  const signed = await s.blobs.presignPart(request.key!, upload.multipart_id, request.partNumber, {
    expiresInSeconds: ttl,
    ...(size !== undefined && { contentLength: size }),
    ...(checksum && { checksum }),
  });
  return { ...signed, expires: ttl };
}

function checkSignedSize(upload: PendingUpload, size: number): void {
  const limit = upload.total_size || MAX_PART_BYTES;
  if (size > Math.min(limit, MAX_PART_BYTES)) {
    throw badRequest(
      `size ${size} is more than a part of this upload may hold (${Math.min(limit, MAX_PART_BYTES)})`,
    );
  }
}

/** The parts S3 holds, for a client that resumes. */
export async function listParts(s: StorageServices, ref: DirectRef): Promise<HeldPart[]> {
  const { upload } = await openUpload(s, ref);
  const held = await s.blobs.listParts(ref.key!, upload.multipart_id);
  if (!held) throw noSuchUpload();
  return held;
}

export interface CompleteRequest extends DirectRef {
  /** The parts as the client sent them, each with the ETag S3 answered. */
  parts: { part: number; etag: string }[];
}

/**
 * Completion, once: the parts the client lists must be the parts S3 holds, and their sizes
 * must fit the limit and the declared size (else the upload is aborted). A completion asked
 * again after it succeeded answers the file as it was completed.
 */
export async function completeDirectUpload(
  s: StorageServices,
  request: CompleteRequest,
): Promise<FileRecord> {
  const { record, revision, upload } = await openDirect(s, request);
  if (!upload) {
    if (record.content?.revision === revision.revision) return record; // asked again
    throw noSuchUpload();
  }
  return finishDirect(s, record, upload, request.parts);
}

/**
 * Claims the upload, checks the parts S3 holds against the client's list (`listed`), the limit
 * and the declared size, and completes it. The sweeper (no `listed`) only finishes what S3
 * already completed; an upload S3 still holds goes back to the client, whose list was never
 * checked against its parts.
 */
export async function finishDirect(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  listed?: { part: number; etag: string }[],
): Promise<FileRecord> {
  const ref = revisionRef(record, upload.revision);
  const claim = s.now();
  // The sweeper runs longer than a request: its claim outlasts its own timeout.
  const claimMs = listed ? REQUEST_CLAIM_MS : s.limits.assemblyLeaseMs;
  const claimed = await s.records.claimAssembly(ref, claim, claim + claimMs);
  if (!claimed.ok) {
    const now = claimed.record;
    if (isGone(claimed) || !now) throw notFound('File not found');
    if (now.content?.revision === upload.revision) return now; // completed meanwhile
    if (claimed.failed === 'uploadIs') throw noSuchUpload(); // aborted or replaced
    throw conflict('This upload is being completed by another request; retry');
  }
  const key = keys.data(record.company_id, record.id, upload.revision);
  try {
    const held = await s.blobs.listParts(key, upload.multipart_id);
    if (!held) return await adoptCompleted(s, record, upload, claim, listed?.length);
    if (!listed) {
      await s.records.releaseAssembly(ref, claim);
      return claimed.record;
    }
    checkListedParts(listed, held);
    const size = await checkHeld(s, record, upload, held);
    const checksum = await completeInS3(s, record, upload, held);
    return await recordContent(s, record, upload, claim, { size, parts: held.length, checksum });
  } catch (error) {
    await s.records.releaseAssembly(ref, claim);
    throw error;
  }
}

/**
 * What S3 holds must fit: more than the limit or the declared size can never complete (the
 * upload is aborted); less than declared is a part still to send; a part under 5 MiB before
 * the last is to be sent again. Returns the size.
 */
async function checkHeld(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  held: HeldPart[],
): Promise<number> {
  if (held.length === 0) throw badRequest('No part of this upload reached S3 yet');
  const size = held.reduce((sum, part) => sum + part.size, 0);
  const declared = upload.total_size;
  if (size > s.limits.maxDirectFileBytes) {
    const error = tooLargeFor(s.limits.maxDirectFileBytes, size);
    return refuseDirect(s, record, upload, tooLarge(`${error.message}; the upload is aborted`));
  }
  if (declared && size > declared) {
    return refuseDirect(
      s,
      record,
      upload,
      conflict(
        `${declared} bytes were declared but S3 holds ${size} in ${partsOf(held.length)}; ` +
          'the upload is aborted: start it again',
      ),
    );
  }
  if (declared && size < declared) {
    throw badRequest(
      `S3 holds ${size} of the ${declared} bytes declared, in ${partsOf(held.length)}: send the ` +
        'missing parts (list the parts to see which are in), then complete',
    );
  }
  const small = held.slice(0, -1).find((part) => part.size < MIN_PART_BYTES);
  if (small) {
    throw badRequest(
      `Part ${small.part} holds ${small.size} bytes: every part but the last must hold at ` +
        'least 5 MiB; send it again',
    );
  }
  if (upload.checksum_algorithm && held.some((part) => !part.checksum)) {
    throw badRequest(`Every part of this upload must carry its ${upload.checksum_algorithm}`);
  }
  return size;
}

/**
 * CompleteMultipartUpload. S3 refuses when the upload went meanwhile (aborted, deleted) or
 * its parts changed since they were listed: the client's 404 or 400, never a fault.
 */
async function completeInS3(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  held: HeldPart[],
): Promise<string | undefined> {
  const key = keys.data(record.company_id, record.id, upload.revision);
  try {
    return await s.blobs.completeMultipart(
      key,
      upload.multipart_id,
      held,
      upload.checksum_algorithm,
    );
  } catch (error) {
    if (!(error instanceof MultipartRefused)) throw error;
    const now = await s.records.get(fileKey(record));
    if (!now || now.deleting) throw notFound('File not found');
    if (error.reason === 'NoSuchUpload' || now.upload?.revision !== upload.revision) {
      throw noSuchUpload();
    }
    throw badRequest('The parts changed while completing: list them, then complete again');
  }
}

/**
 * S3 completed the upload but the record never said so (the run that completed it died): the
 * object is there and becomes the content, if it is the declared size; else it is dropped.
 */
async function adoptCompleted(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  claim: number,
  parts: number | undefined,
): Promise<FileRecord> {
  const key = keys.data(record.company_id, record.id, upload.revision);
  const size = (await s.blobs.sizes(key)).get(key);
  if (size === undefined) {
    return refuseDirect(
      s,
      record,
      upload,
      conflict('This upload no longer exists in S3; start again'),
    );
  }
  if (upload.total_size && size !== upload.total_size) {
    return refuseDirect(
      s,
      record,
      upload,
      conflict('The data S3 completed is not the declared size; start again'),
    );
  }
  // The part count is the client's list's, when there is one (S3's is not kept).
  return recordContent(s, record, upload, claim, { size, parts: parts ?? 1, checksum: undefined });
}

/** The completed data becomes the content, under the claim; the replaced revision goes. */
async function recordContent(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  claim: number,
  data: { size: number; parts: number; checksum: string | undefined },
): Promise<FileRecord> {
  const { size, checksum } = data;
  const algorithm = upload.checksum_algorithm;
  const content: Content = {
    revision: upload.revision,
    name: upload.name,
    mime: upload.mime,
    size,
    chunks: data.parts,
    ...initialThumbnails(s, { mime: upload.mime, name: upload.name, size }),
    completed_at: s.now(),
    direct: true,
    ...(checksum && algorithm && { checksum: { algorithm, value: checksum } }),
  };
  const completed = await s.records.completeUpload(
    revisionRef(record, upload.revision),
    claim,
    content,
  );
  if (!completed.ok) {
    const now = completed.record;
    if (now && !now.deleting && now.content?.revision === upload.revision) return now; // a twin
    if (!now || now.deleting || now.upload?.revision !== upload.revision) {
      // Deleted, aborted or replaced while completing: these bytes belong to nothing.
      await s.blobs.deletePrefix(
        keys.revisionPrefix(record.company_id, record.id, upload.revision),
      );
      throw notFound('File not found');
    }
    // Another run took the claim over (ours lapsed): it completes the upload.
    throw conflict('This upload is being completed by another request; retry');
  }
  const replaced = record.content?.revision;
  if (replaced && replaced !== upload.revision) await dropRevision(s, record, replaced);
  return completed.record;
}

const partsOf = (count: number) => `${count} part${count === 1 ? '' : 's'}`;

/** S3's ETags come quoted; clients pass them on quoted or not. */
const bareEtag = (etag: string) => etag.replace(/^"|"$/g, '');

/** The client's list must name exactly the parts S3 holds, each by its current ETag. */
function checkListedParts(listed: { part: number; etag: string }[], held: HeldPart[]): void {
  const byNumber = new Map(held.map((part) => [part.part, bareEtag(part.etag)]));
  for (const { part, etag } of listed) {
    const stored = byNumber.get(part);
    if (stored === undefined) {
      throw badRequest(`Part ${part} is not in S3: upload it (list the parts to see which are)`);
    }
    if (stored !== bareEtag(etag)) {
      throw badRequest(
        `Part ${part}'s ETag is not the one S3 holds for it (S3 answers each part's ETag to ` +
          'its PUT; list the parts to see them)',
      );
    }
  }
  if (listed.length !== held.length) {
    const missing = held.filter((part) => !listed.some((given) => given.part === part.part));
    throw badRequest(
      `S3 holds parts the list leaves out (${missing.map((part) => part.part).join(', ')}): ` +
        'list every part uploaded',
    );
  }
}

/**
 * Abort: the upload is cancelled first (so a completion racing it cannot win afterwards),
 * then S3 drops its parts; a file that had no content yet goes with it, an overwrite leaves
 * the content as it was.
 */
export async function abortDirectUpload(s: StorageServices, ref: DirectRef): Promise<void> {
  const { record, revision, upload } = await openDirect(s, ref);
  const completedAlready = () => conflict('This upload is complete: delete the file instead');
  if (!upload) {
    if (record.content?.revision === revision.revision) throw completedAlready();
    throw noSuchUpload();
  }
  const cancelled = await s.records.cancelUpload(revisionRef(record, upload.revision));
  if (!cancelled.ok) {
    if (cancelled.record?.content?.revision === upload.revision) throw completedAlready();
    throw noSuchUpload();
  }
  await discardUpload(s, record, upload);
  if (!cancelled.record.content) await purgeFile(s, record.company_id, record.id);
}
