import { completeForUsers } from '../access';
import { chunksPerPart } from '../assembly-plan';
import { conflict, notFound } from '../errors';
import type { FileRecord, PendingUpload } from '../file';
import { keys, newChunkNonce, newRevision } from '../ids';
import {
  MAX_REQUEST_DATA_BYTES,
  checkRequestData,
  nameAndMime,
  type IncomingData,
} from '../incoming';
import { isGone } from '../lifecycle';
import type { RevisionRef } from '../refs';
import type { RecordServices, Services, StartAs, StorageServices } from '../ports';
import type { Principal } from '../principal';
import { fileKey, revisionRef } from '../refs';
import { checkChunkNumber, type UploadParams } from '../upload-params';
import { bestEffort, discardUpload } from './cleanup';
import { finishUpload } from './completion';
import { RETRY_AFTER_COMPLETION_MS, retriedConflict } from './late-retries';
import { checkFileSize } from './limits';
import { uploadPartIfReady } from './parts';

/**
 * Chunks coming in. Each chunk attempt is written to a key of its own
 * under uploads/…/{revision}/, and the first one recorded (an item per chunk, counted on the
 * file's record in the same transaction) is the chunk. The request that records the last
 * chunk moves on to completion.
 */

export interface ChunkRequest {
  principal: Principal;
  params: UploadParams;
  data: IncomingData;
}

/**
 * Chunks this request belongs to: the query's count; for a chunk of the upload in progress,
 * its count; before any content, what the create declared; otherwise a whole file.
 */
export function totalChunksOf(params: UploadParams, record: Partial<FileRecord>): number {
  if (params.totalChunks !== undefined) return params.totalChunks;
  if (params.chunkNumber !== undefined && record.upload && !record.upload.direct) {
    return record.upload.total_chunks;
  }
  if (!record.content) return record.declared?.total_chunks ?? 1;
  return 1;
}

/** Declared values describe the first content only; an overwrite brings its own. */
export function declaredFor(record: Partial<FileRecord>) {
  return record.content ? undefined : record.declared;
}

/** Where this chunk goes, checked against the upload's chunk count and the request limit. */
function placeChunk(request: ChunkRequest, record: Partial<FileRecord>) {
  const totalChunks = totalChunksOf(request.params, record);
  const chunkNumber = request.params.chunkNumber ?? 1;
  checkChunkNumber(chunkNumber, totalChunks);
  checkRequestData(request.data);
  return { totalChunks, chunkNumber };
}

/** The chunk size this upload will use, to group its chunks into parts of at least 5 MiB. */
function expectedChunkBytes(totalSize: number, totalChunks: number, request: ChunkRequest) {
  if (totalSize > 0) return Math.ceil(totalSize / totalChunks);
  const chunkNumber = request.params.chunkNumber ?? 1;
  // Any chunk but the last has the upload's chunk size; the last one may be smaller.
  return chunkNumber < totalChunks ? request.data.bytes.byteLength : MAX_REQUEST_DATA_BYTES;
}

/** A new upload, with its multipart upload started in S3. */
async function newUpload(
  s: StorageServices,
  record: Pick<FileRecord, 'company_id' | 'id' | 'declared' | 'content'>,
  request: ChunkRequest,
  totalChunks: number,
): Promise<PendingUpload> {
  const declared = declaredFor(record);
  const totalSize = request.params.totalSize ?? declared?.total_size ?? 0;
  checkFileSize(s, totalSize);
  const revision = newRevision();
  const { name, mime } = nameAndMime(request.params, declared, request.data);
  return {
    revision,
    name,
    mime,
    total_chunks: totalChunks,
    total_size: totalSize,
    started_at: s.now(),
    state: 'receiving',
    chunk_count: 0,
    multipart_id: await s.blobs.startMultipart(
      keys.data(record.company_id, record.id, revision),
      mime,
    ),
    part_chunks: chunksPerPart(expectedChunkBytes(totalSize, totalChunks, request)),
  };
}

function checkSameUpload(upload: PendingUpload, params: UploadParams, totalChunks: number): void {
  if (upload.total_chunks !== totalChunks) {
    throw conflict(
      `total_chunks=${totalChunks} disagrees with the upload in progress ` +
        `(total_chunks=${upload.total_chunks})`,
    );
  }
  const totalSize = params.totalSize;
  if (totalSize && upload.total_size && totalSize !== upload.total_size) {
    throw conflict(
      `total_size=${totalSize} disagrees with the upload in progress ` +
        `(total_size=${upload.total_size})`,
    );
  }
}

/** Stores this attempt's bytes under a key of its own. */
async function storeAttempt(
  s: StorageServices,
  ref: RevisionRef,
  chunkNumber: number,
  bytes: Uint8Array,
) {
  const nonce = newChunkNonce();
  const key = keys.chunk(ref.companyId, ref.fileId, ref.revision, chunkNumber, nonce);
  await s.blobs.put(key, bytes, 'application/octet-stream');
  return { key, chunk: { size: bytes.byteLength, nonce } };
}

/** The first chunk of a file created by the same request: one write makes both. */
export async function firstChunkOfNewFile(
  s: StorageServices,
  record: FileRecord,
  request: ChunkRequest,
): Promise<FileRecord> {
  const { totalChunks, chunkNumber } = placeChunk(request, record);
  const upload = await newUpload(s, record, request, totalChunks);
  const { bytes } = request.data;
  const { key, chunk } = await storeAttempt(
    s,
    revisionRef(record, upload.revision),
    chunkNumber,
    bytes,
  );
  const created: FileRecord = { ...record, upload: { ...upload, chunk_count: 1 } };
  if (!(await s.records.create(created, { chunkNumber, chunk })).ok) {
    throw conflict('A file with this id already exists');
  }
  await uploadPartIfReady(s, created, created.upload!, chunkNumber, { key, bytes });
  return created;
}

/** How this request's upload would start: see the `start…` rows of lifecycle.ts. */
export function startAs(
  s: StorageServices,
  principal: Principal,
  stale: PendingUpload | undefined,
): StartAs {
  const overwrite = principal.kind === 'application';
  if (stale) return { as: overwrite ? 'restartOverwrite' : 'restart', replacing: stale.revision };
  return overwrite
    ? { as: 'overwrite', retriedSince: s.now() - RETRY_AFTER_COMPLETION_MS }
    : { as: 'start' };
}

/** An upload too old to complete (its chunks or parts expire): a new one may replace it. */
export function isStale(s: RecordServices, upload: PendingUpload | undefined): boolean {
  return upload?.state === 'receiving' && s.now() - upload.started_at > s.limits.uploadMaxAgeMs;
}

/** The upload in progress, or a new one (which replaces one too old to complete). */
async function joinOrStart(
  s: StorageServices,
  record: FileRecord,
  request: ChunkRequest,
  totalChunks: number,
): Promise<PendingUpload> {
  const current = record.upload;
  // The upload in progress if it is too old to complete: the new one replaces it.
  const stale = isStale(s, current) ? current : undefined;
  if (current && !stale) {
    if (current.direct) {
      throw conflict(
        'An upload straight to S3 into this file is in progress: complete or abort it first',
      );
    }
    checkSameUpload(current, request.params, totalChunks);
    // Taken for chunk 1 (the default), a whole file sent into the upload (its totals came
    // from the create) would be dropped as a duplicate of it whenever chunk 1 is already in.
    if (request.params.chunkNumber === undefined) {
      throw conflict(
        `An upload of ${current.total_chunks} chunks is in progress: send each chunk with ` +
          'its chunk_number (resumableChunkNumber)',
      );
    }
    return current;
  }
  const candidate = await newUpload(s, record, request, totalChunks);
  const started = await s.records.startUpload(
    fileKey(record),
    candidate,
    startAs(s, request.principal, stale),
  );
  // Started, joined, or refused with another upload in progress: that one is joined.
  const upload = started.record?.upload;
  if (upload?.revision !== candidate.revision) await discardUpload(s, record, candidate);
  if (stale && upload?.revision === candidate.revision) await discardUpload(s, record, stale);
  if (!upload) {
    if (isGone(started)) throw notFound('File not found');
    if (!started.ok && started.failed === 'noContent') throw completeForUsers();
    // Refused while a late retry of the content is noted, even if that window closed since.
    if (!started.ok && started.failed === 'noRetriedChunk' && started.record?.content) {
      throw retriedConflict(s, started.record.content);
    }
    throw conflict('The file changed during this request; retry');
  }
  checkSameUpload(upload, request.params, totalChunks);
  return upload;
}

/** One chunk into an existing file. Returns the record as this request leaves it. */
export async function receiveChunk(
  s: Services,
  record: FileRecord,
  request: ChunkRequest,
): Promise<FileRecord> {
  const { totalChunks, chunkNumber } = placeChunk(request, record);
  const upload = await joinOrStart(s, record, request, totalChunks);
  const ref = revisionRef(record, upload.revision);

  // A chunk already recorded is not written again, and a lost reply's retry still moves
  // the upload on.
  const range = { from: chunkNumber, to: chunkNumber };
  if (upload.state === 'receiving' && !(await s.records.chunks(ref, range)).has(chunkNumber)) {
    const { bytes } = request.data;
    const { key, chunk } = await storeAttempt(s, ref, chunkNumber, bytes);
    const recorded = await s.records.recordChunk(ref, chunkNumber, chunk, s.now());
    if (recorded.ok) {
      await uploadPartIfReady(s, record, upload, chunkNumber, { key, bytes });
    } else {
      // Another attempt at this chunk was recorded first, or the upload moved on: ours
      // counts for nothing.
      await bestEffort(s, 'could not remove an unrecorded chunk', { fileId: ref.fileId, key }, () =>
        s.blobs.deletePrefix(key),
      );
    }
  }
  return moveOn(s, ref);
}

/**
 * After a chunk, or a retry of one: complete if every chunk is in and nobody is completing,
 * otherwise report where the upload stands.
 */
async function moveOn(s: Services, ref: RevisionRef): Promise<FileRecord> {
  const record = await s.records.get(ref);
  if (!record || record.deleting) {
    // Deleted while this chunk was being written: nothing may stay behind.
    await s.blobs.deletePrefix(keys.chunksPrefix(ref.companyId, ref.fileId, ref.revision));
    throw notFound('File not found');
  }
  const upload = record.upload;
  if (upload?.revision !== ref.revision) {
    if (record.content?.revision === ref.revision) return record; // completed meanwhile
    throw conflict('This upload was replaced by another one; start again');
  }
  if (upload.chunk_count < upload.total_chunks) return record;
  return finishUpload(s, record, upload);
}

/**
 * resumable.js's `testChunks`: is chunk n of the upload already stored (`recorded`, looked up
 * by the caller)? An upload whose chunks are all in but whose completion died asks for its
 * last chunk again: re-sending it completes the upload.
 */
export function hasChunk(
  record: FileRecord,
  chunkNumber: number,
  { now, overwriting, recorded }: { now: number; overwriting: boolean; recorded: boolean },
): boolean {
  const { upload, content } = record;
  // An application about to overwrite a complete file has sent none of its new chunks yet.
  if (!upload) return !overwriting && content !== undefined && chunkNumber <= content.chunks;
  const allIn = upload.chunk_count >= upload.total_chunks;
  const stalled = upload.state === 'receiving' || (upload.claim_until ?? 0) < now;
  if (allIn && stalled && chunkNumber === upload.total_chunks) return false;
  return upload.state === 'assembling' || recorded;
}
