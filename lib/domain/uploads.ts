import {
  chunksOfPart,
  chunksPerPart,
  isValidPart,
  partCount,
  partOf,
  planParts,
  type StoredChunk,
} from './assembly-plan';
import { conflict, forbidden, notFound, tooLarge } from './errors';
import type { Content, FileRecord, PendingUpload } from './file';
import { keys, newRevision } from './ids';
import {
  MAX_REQUEST_DATA_BYTES,
  checkRequestData,
  nameAndMime,
  type IncomingData,
} from './incoming';
import type { AssemblyJob, Services } from './ports';
import type { Principal } from './principal';
import { inParallel } from '../parallel';
import { checkChunkNumber, type UploadParams } from './upload-params';

/**
 * Chunked uploads (ARCHITECTURE.md §4). Chunks go to uploads/…/{revision}/{n} and are
 * recorded once each in the file's record. The revision's `data` is an S3 multipart upload
 * started with the upload: as soon as the chunks of a part are all in, the request that
 * brought the last of them uploads that part (streamed), so the request that records the
 * last chunk claims completion (exactly one wins) and has little left to do but S3's
 * CompleteMultipartUpload. Parts that could not be uploaded ahead are streamed then.
 */

export interface ChunkRequest {
  principal: Principal;
  params: UploadParams;
  data: IncomingData;
}

/** Parts uploaded at once when completing: memory holds at most this many parts (< 9 MiB). */
const PART_CONCURRENCY = 4;

/** Chunks announced for this request: the query's, else the upload in progress's or declared. */
export function totalChunksOf(params: UploadParams, record: Partial<FileRecord>): number {
  return params.totalChunks ?? record.upload?.total_chunks ?? record.declared?.total_chunks ?? 1;
}

function checkFileSize(s: Services, bytes: number): void {
  if (bytes > s.limits.maxFileBytes) {
    throw tooLarge(`Files are limited to ${s.limits.maxFileBytes} bytes; this one has ${bytes}`);
  }
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
  s: Services,
  record: Pick<FileRecord, 'company_id' | 'id' | 'declared'>,
  request: ChunkRequest,
  totalChunks: number,
): Promise<PendingUpload> {
  const totalSize = request.params.totalSize ?? record.declared?.total_size ?? 0;
  checkFileSize(s, totalSize);
  const revision = newRevision();
  const { name, mime } = nameAndMime(request.params, record.declared, request.data);
  return {
    revision,
    name,
    mime,
    total_chunks: totalChunks,
    total_size: totalSize,
    started_at: s.now(),
    state: 'receiving',
    chunk_count: 0,
    chunk_sizes: {},
    multipart_id: await s.blobs.startMultipart(
      keys.data(record.company_id, record.id, revision),
      mime,
    ),
    part_chunks: chunksPerPart(expectedChunkBytes(totalSize, totalChunks, request)),
    parts: {},
  };
}

async function abandon(
  s: Services,
  record: Pick<FileRecord, 'company_id' | 'id'>,
  upload: PendingUpload,
) {
  await bestEffort(s, 'could not abort a multipart upload', { revision: upload.revision }, () =>
    s.blobs.abortMultipart(
      keys.data(record.company_id, record.id, upload.revision),
      upload.multipart_id,
    ),
  );
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

/** Where this chunk goes, checked against the upload's chunk count and the request limit. */
function placeChunk(request: ChunkRequest, record: Partial<FileRecord>) {
  const totalChunks = totalChunksOf(request.params, record);
  const chunkNumber = request.params.chunkNumber ?? 1;
  checkChunkNumber(chunkNumber, totalChunks);
  checkRequestData(request.data);
  return { totalChunks, chunkNumber };
}

/** The first chunk of a file created by the same request: one write makes both. */
export async function firstChunkOfNewFile(
  s: Services,
  record: FileRecord,
  request: ChunkRequest,
): Promise<FileRecord> {
  const { totalChunks, chunkNumber } = placeChunk(request, record);
  const upload = await newUpload(s, record, request, totalChunks);
  const size = request.data.bytes.byteLength;
  await s.blobs.put(
    keys.chunk(record.company_id, record.id, upload.revision, chunkNumber),
    request.data.bytes,
    'application/octet-stream',
  );
  const created = {
    ...record,
    upload: { ...upload, chunk_count: 1, chunk_sizes: { [chunkNumber]: size } },
  };
  await s.records.create(created);
  await uploadPartIfReady(s, created, chunkNumber, request.data.bytes);
  return created;
}

async function joinOrStart(
  s: Services,
  record: FileRecord,
  request: ChunkRequest,
  totalChunks: number,
): Promise<PendingUpload> {
  let upload = record.upload;
  if (!upload) {
    const candidate = await newUpload(s, record, request, totalChunks);
    const overwrite = request.principal.kind === 'application';
    const started = await s.records.startUpload(record.company_id, record.id, candidate, overwrite);
    if (started?.upload?.revision !== candidate.revision) await abandon(s, record, candidate);
    if (!started?.upload) {
      const now = await s.records.get(record.company_id, record.id);
      if (!now || now.deleting) throw notFound('File not found');
      throw forbidden('This file is complete: only applications can overwrite it');
    }
    upload = started.upload;
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
  const { company_id: companyId, id: fileId } = record;
  const upload = await joinOrStart(s, record, request, totalChunks);

  // A chunk already recorded is not written again: retries never change bytes under an
  // assembly, and a lost reply's retry still moves the upload on.
  const recorded = upload.chunk_sizes[chunkNumber] !== undefined || upload.state !== 'receiving';
  if (!recorded) {
    const { bytes } = request.data;
    const key = keys.chunk(companyId, fileId, upload.revision, chunkNumber);
    await s.blobs.put(key, bytes, 'application/octet-stream');
    const after = await s.records.recordChunk(
      companyId,
      fileId,
      upload.revision,
      chunkNumber,
      bytes.byteLength,
    );
    if (after?.upload) {
      await uploadPartIfReady(s, after, chunkNumber, bytes);
      if (after.upload.chunk_count < totalChunks) return after;
    }
  }
  return moveOn(s, companyId, fileId, upload.revision);
}

/**
 * Uploads the part of `chunkNumber` if all its chunks are in, from this request's bytes and
 * the stored chunks. Only an optimisation: completion uploads any part still missing, so a
 * failure here costs time, never data.
 */
async function uploadPartIfReady(
  s: Services,
  record: FileRecord,
  chunkNumber: number,
  bytes: Uint8Array,
): Promise<void> {
  const upload = record.upload;
  if (!upload) return;
  const part = partOf(chunkNumber, upload.part_chunks);
  const numbers = chunksOfPart(part, upload.part_chunks, upload.total_chunks);
  const sizes = numbers.map((n) => upload.chunk_sizes[n]);
  if (sizes.some((size) => size === undefined) || upload.parts[part]) return;
  const size = sizes.reduce<number>((sum, bytesOfChunk) => sum + (bytesOfChunk ?? 0), 0);
  if (!isValidPart(size, part, partCount(upload.total_chunks, upload.part_chunks))) return;

  const { company_id: companyId, id: fileId } = record;
  const chunkKey = (n: number) => keys.chunk(companyId, fileId, upload.revision, n);
  await bestEffort(s, 'could not upload a part ahead', { fileId, part }, async () => {
    const etag = await s.blobs.uploadPart(
      keys.data(companyId, fileId, upload.revision),
      upload.multipart_id,
      part,
      numbers.map((n, i) => ({ key: chunkKey(n), size: sizes[i] ?? 0 })),
      new Map([[chunkKey(chunkNumber), bytes]]),
    );
    await s.records.recordPart(companyId, fileId, upload.revision, part, { etag, size });
  });
}

/**
 * After a chunk, or a retry of one: complete if every chunk is in and nobody is completing,
 * otherwise report where the upload stands.
 */
async function moveOn(
  s: Services,
  companyId: string,
  fileId: string,
  revision: string,
): Promise<FileRecord> {
  const record = await s.records.get(companyId, fileId);
  if (!record || record.deleting) {
    // Deleted while this chunk was being written: nothing may stay behind.
    await s.blobs.deletePrefix(keys.chunksPrefix(companyId, fileId, revision));
    throw notFound('File not found');
  }
  const upload = record.upload;
  if (upload?.revision !== revision) {
    if (record.content?.revision === revision) return record; // completed meanwhile
    throw conflict('This upload was replaced by another one; start again');
  }
  if (upload.chunk_count < upload.total_chunks) return record;
  return completeUpload(s, record, upload);
}

async function storedChunks(
  s: Services,
  record: FileRecord,
  upload: PendingUpload,
): Promise<StoredChunk[]> {
  const prefix = keys.chunksPrefix(record.company_id, record.id, upload.revision);
  const sizes = await s.blobs.sizes(prefix);
  return Array.from({ length: upload.total_chunks }, (_, i) => {
    const key = keys.chunk(record.company_id, record.id, upload.revision, i + 1);
    const size = sizes.get(key);
    if (size === undefined) throw new Error(`chunk ${i + 1} of ${upload.revision} is missing`);
    return { key, size };
  });
}

/** How the chunks become parts: the upload's own grouping if S3 takes it, else regrouped. */
function assemblyPlan(upload: PendingUpload, chunks: StoredChunk[]) {
  const parts = partCount(upload.total_chunks, upload.part_chunks);
  const grouped = Array.from({ length: parts }, (_, i) =>
    chunksOfPart(i + 1, upload.part_chunks, upload.total_chunks).map((n) => chunks[n - 1]!),
  );
  const sizeOf = (group: StoredChunk[]) => group.reduce((sum, chunk) => sum + chunk.size, 0);
  const fits = grouped.every((group, i) => isValidPart(sizeOf(group), i + 1, parts));
  if (!fits) return { reuse: false, groups: planParts(chunks), toStream: sizeOf(chunks) };
  const missing = grouped.filter((group, i) => upload.parts[i + 1]?.size !== sizeOf(group));
  return { reuse: true, groups: grouped, toStream: missing.reduce((sum, g) => sum + sizeOf(g), 0) };
}

async function completeUpload(
  s: Services,
  record: FileRecord,
  upload: PendingUpload,
): Promise<FileRecord> {
  const { company_id: companyId, id: fileId } = record;
  const now = s.now();
  const claimed = await s.records.claimAssembly(
    companyId,
    fileId,
    upload.revision,
    now,
    now - s.limits.assemblyLeaseMs,
  );
  if (!claimed) return (await s.records.get(companyId, fileId)) ?? record;

  const job: AssemblyJob = { company_id: companyId, file_id: fileId, revision: upload.revision };
  try {
    const chunks = await storedChunks(s, record, upload);
    const size = chunks.reduce((sum, chunk) => sum + chunk.size, 0);
    if (upload.total_size && size !== upload.total_size) {
      throw conflict(
        `total_size=${upload.total_size} disagrees with the ${size} bytes received in ` +
          `${upload.total_chunks} chunks; send the wrong chunks again`,
      );
    }
    checkFileSize(s, size);
    if (assemblyPlan(upload, chunks).toStream <= s.limits.syncAssemblyMaxBytes) {
      return await assemble(s, record, upload, chunks);
    }
    await s.assemblies.enqueue(job);
    return { ...record, upload: { ...upload, state: 'assembling', assembly_started_at: now } };
  } catch (error) {
    await s.records.releaseAssembly(companyId, fileId, upload.revision);
    throw error;
  }
}

/** The asynchronous assembler's entry point; safe to run again after a failure. */
export async function runAssembly(s: Services, job: AssemblyJob): Promise<void> {
  const record = await s.records.get(job.company_id, job.file_id);
  const upload = record?.upload;
  if (!record || record.deleting || upload?.revision !== job.revision) return;
  if (upload.state !== 'assembling') return;
  await assemble(s, record, upload, await storedChunks(s, record, upload));
}

/** Uploads the parts still missing, completes the multipart upload, makes it the content. */
async function writeData(
  s: Services,
  record: FileRecord,
  upload: PendingUpload,
  chunks: StoredChunk[],
): Promise<void> {
  const key = keys.data(record.company_id, record.id, upload.revision);
  const expected = chunks.reduce((sum, chunk) => sum + chunk.size, 0);
  // An earlier attempt may have completed the multipart upload and then failed: S3 does not
  // take a second completion, and the object is already right.
  const existing = await s.blobs.sizes(key);
  if (existing.get(key) === expected) return;
  const plan = assemblyPlan(upload, chunks);
  let uploadId = upload.multipart_id;
  if (!plan.reuse) {
    // Chunks came in other sizes than announced: a new multipart upload, regrouped.
    await abandon(s, record, upload);
    uploadId = await s.blobs.startMultipart(key, upload.mime);
  }
  const parts = await inParallel(plan.groups, PART_CONCURRENCY, async (group, index) => {
    const part = index + 1;
    const size = group.reduce((sum, chunk) => sum + chunk.size, 0);
    const ahead = plan.reuse ? upload.parts[part] : undefined;
    const etag =
      ahead?.size === size ? ahead.etag : await s.blobs.uploadPart(key, uploadId, part, group);
    return { part, etag };
  });
  await s.blobs.completeMultipart(key, uploadId, parts);
}

async function assemble(
  s: Services,
  record: FileRecord,
  upload: PendingUpload,
  chunks: StoredChunk[],
): Promise<FileRecord> {
  const { company_id: companyId, id: fileId } = record;
  const { revision } = upload;
  await writeData(s, record, upload, chunks);
  const content: Content = {
    revision,
    name: upload.name,
    mime: upload.mime,
    size: chunks.reduce((sum, chunk) => sum + chunk.size, 0),
    chunks: upload.total_chunks,
    thumbnails_status: 'done',
    thumbnails: [],
  };
  const completed = await s.records.completeUpload(companyId, fileId, revision, content, s.now());
  if (!completed) {
    const now = await s.records.get(companyId, fileId);
    if (now && !now.deleting && now.content?.revision === revision) return now; // a twin finished
    if (!now || now.deleting || now.upload?.revision !== revision) {
      // Deleted or replaced while assembling: these bytes belong to nothing.
      await s.blobs.deletePrefix(keys.revisionPrefix(companyId, fileId, revision));
      await s.blobs.deletePrefix(keys.chunksPrefix(companyId, fileId, revision));
    }
    throw notFound('File not found');
  }
  await bestEffort(s, 'could not remove assembled chunks', { fileId, revision }, () =>
    s.blobs.deletePrefix(keys.chunksPrefix(companyId, fileId, revision)),
  );
  const replaced = record.content?.revision;
  if (replaced && replaced !== revision) await dropRevision(s, record, replaced);
  return completed;
}

/**
 * Old revisions are removed once the new one is current. A failure here leaves only stray
 * objects under the file's prefix, which delete removes with everything else.
 */
export async function dropRevision(s: Services, record: FileRecord, revision: string) {
  await bestEffort(s, 'could not remove a replaced revision', { fileId: record.id, revision }, () =>
    s.blobs.deletePrefix(keys.revisionPrefix(record.company_id, record.id, revision)),
  );
}

/** Ends the multipart upload of an upload that will never complete (file deleted). */
export async function abandonUpload(s: Services, record: FileRecord): Promise<void> {
  if (record.upload) await abandon(s, record, record.upload);
}

async function bestEffort(
  s: Services,
  message: string,
  detail: Record<string, unknown>,
  work: () => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (error) {
    s.warn(message, { ...detail, error });
  }
}

/** resumable.js's `testChunks`: is chunk n of the upload already stored? */
export function hasChunk(record: FileRecord, chunkNumber: number): boolean {
  const { upload, content } = record;
  if (upload) return upload.state === 'assembling' || upload.chunk_sizes[chunkNumber] !== undefined;
  return content !== undefined && chunkNumber <= content.chunks;
}
