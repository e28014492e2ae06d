import { checkMayWrite, completeForUsers, openFile, requireRole } from '../access';
import { MAX_PARTS, MIN_PART_BYTES } from '../assembly-plan';
import { badRequest, conflict, notFound } from '../errors';
import { creatorOf, type ChecksumAlgorithm, type FileRecord, type PendingUpload } from '../file';
import { keys, newFileId, newRevision } from '../ids';
import { nameAndMime } from '../incoming';
import { isGone } from '../lifecycle';
import type { StorageServices } from '../ports';
import type { Principal } from '../principal';
import { fileKey, type RevisionRef } from '../refs';
import { abortQuietly, discardUpload } from './cleanup';
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
 *
 * Here: the create, and the upload a later request names (key and upload id). Then
 * direct-parts.ts (signing the parts, listing them) and direct-completion.ts (complete, abort).
 */

/** S3's largest part. */
export const MAX_PART_BYTES = 5 * 1024 ** 3;

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
export function pinnedSize(upload: PendingUpload, partNumber: number): number | undefined {
  const { part_size: partSize, total_size: total } = upload;
  if (!partSize) return undefined;
  const parts = maxPartsOf(upload);
  return partNumber < parts ? partSize : total - (parts - 1) * partSize;
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

/** `files/{company}/{file}/{revision}/data`, as the create answered it. */
const DATA_KEY =
  /^files\/([^/]+)\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/(r[0-9a-z]+)\/data$/;

export const noSuchUpload = () =>
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
export async function openDirect(
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

export async function openUpload(s: StorageServices, ref: DirectRef) {
  const opened = await openDirect(s, ref);
  if (!opened.upload) throw noSuchUpload();
  return { ...opened, upload: opened.upload };
}
