import { openFile, requireRole } from '../access';
import { MAX_PARTS, MIN_PART_BYTES } from '../assembly-plan';
import { badRequest, conflict, forbidden, notFound } from '../errors';
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
import { startAs } from './intake';
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
  const stale = current !== undefined && s.now() - current.started_at > s.limits.uploadMaxAgeMs;
  if (current && !stale) throw uploadInProgress();
  const upload = await newDirectUpload(s, record, request);
  const key = keys.data(companyId, fileId, upload.revision);
  const started = await s.records.startUpload(
    fileKey(record),
    upload,
    startAs(s, principal, stale ? current : undefined),
  );
  if (started.record?.upload?.revision !== upload.revision) {
    await abortQuietly(s, key, upload.multipart_id);
    if (isGone(started)) throw notFound('File not found');
    if (!started.ok && started.failed === 'noContent') throw completeForUsers();
    throw uploadInProgress();
  }
  // The upload replaced (direct or chunked): its parts and chunks go.
  if (stale) await discardUpload(s, record, current);
  return { key, uploadId: upload.multipart_id, record: started.record };
}

const uploadInProgress = () =>
  conflict('Another upload into this file is in progress: complete or abort it first');
const completeForUsers = () =>
  forbidden('This file is complete: only applications can overwrite it');

/** Only the file's creator or an application writes into a file. */
function checkMayWrite(principal: Principal, record: FileRecord): void {
  if (principal.kind === 'user' && !isCreator(principal, record)) {
    throw forbidden("Only the file's creator or an application can upload into it");
  }
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
export async function signPart(
  s: StorageServices,
  request: PartRequest,
): Promise<{ url: string; expires: number; headers: Record<string, string> }> {
  const { upload } = await openUpload(s, request);
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
 * Claims the upload, checks the parts S3 holds and completes it. Without `listed` (the
 * sweeper, after a completion that died) S3's own list is taken.
 */
export async function finishDirect(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  listed?: { part: number; etag: string }[],
): Promise<FileRecord> {
  const ref = revisionRef(record, upload.revision);
  const claim = s.now();
  const claimed = await s.records.claimAssembly(ref, claim, claim + REQUEST_CLAIM_MS);
  if (!claimed.ok) {
    if (isGone(claimed) || !claimed.record) throw notFound('File not found');
    if (claimed.record.content?.revision === upload.revision) return claimed.record;
    throw conflict('This upload is being completed by another request; retry');
  }
  try {
    return await completeClaimed(s, record, upload, claim, listed);
  } catch (error) {
    await s.records.releaseAssembly(ref, claim);
    throw error;
  }
}

async function completeClaimed(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  claim: number,
  listed: { part: number; etag: string }[] | undefined,
): Promise<FileRecord> {
  const key = keys.data(record.company_id, record.id, upload.revision);
  const held = await s.blobs.listParts(key, upload.multipart_id);
  let size: number;
  let parts: number;
  let checksum: string | undefined;
  if (!held) {
    // Completed in S3 by a run that died before the record: the object is there.
    const stored = (await s.blobs.sizes(key)).get(key);
    if (stored === undefined) {
      return refuse(s, record, upload, conflict('This upload no longer exists in S3; start again'));
    }
    size = stored;
    parts = listed?.length ?? 1;
  } else {
    if (held.length === 0) throw badRequest('No part of this upload reached S3 yet');
    if (listed) checkListedParts(listed, held);
    size = held.reduce((sum, part) => sum + part.size, 0);
    if (size > s.limits.maxDirectFileBytes) {
      return refuse(s, record, upload, tooLargeFor(s.limits.maxDirectFileBytes, size));
    }
    if (upload.total_size && size !== upload.total_size) {
      return refuse(
        s,
        record,
        upload,
        conflict(
          `${upload.total_size} bytes were declared but S3 holds ${size} in ${held.length} ` +
            'parts; the upload is aborted: start it again',
        ),
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
    checksum = await s.blobs.completeMultipart(
      key,
      upload.multipart_id,
      held,
      upload.checksum_algorithm,
    );
    parts = held.length;
  }
  const content: Content = {
    revision: upload.revision,
    name: upload.name,
    mime: upload.mime,
    size,
    chunks: parts,
    ...initialThumbnails(s, { mime: upload.mime, name: upload.name, size }),
    completed_at: s.now(),
    ...(checksum &&
      upload.checksum_algorithm && {
        checksum: { algorithm: upload.checksum_algorithm, value: checksum },
      }),
  };
  const ref = revisionRef(record, upload.revision);
  const completed = await s.records.completeUpload(ref, claim, content);
  if (!completed.ok) {
    const now = completed.record;
    if (now && !now.deleting && now.content?.revision === upload.revision) return now;
    // Deleted or replaced while completing: these bytes belong to nothing.
    await s.blobs.deletePrefix(keys.revisionPrefix(record.company_id, record.id, upload.revision));
    throw notFound('File not found');
  }
  const replaced = record.content?.revision;
  if (replaced && replaced !== upload.revision) await dropRevision(s, record, replaced);
  return completed.record;
}

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
      throw badRequest(`Part ${part}'s ETag is not the one S3 holds: it was sent again since`);
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
 * Abort: S3 drops the parts; a file that had no content yet goes with its upload, an
 * overwrite leaves the content as it was.
 */
export async function abortDirectUpload(s: StorageServices, ref: DirectRef): Promise<void> {
  const { record, revision, upload } = await openDirect(s, ref);
  if (!upload) {
    if (record.content?.revision === revision.revision) {
      throw conflict('This upload is complete: delete the file instead');
    }
    throw noSuchUpload();
  }
  if (!record.content) {
    await purgeFile(s, record.company_id, record.id);
    return;
  }
  await s.records.cancelUpload(revisionRef(record, upload.revision));
  await abortQuietly(s, ref.key!, upload.multipart_id);
}
