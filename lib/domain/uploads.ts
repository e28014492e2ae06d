import { planParts, type StoredChunk } from './assembly-plan';
import { conflict, forbidden, notFound, tooLarge } from './errors';
import type { Content, FileRecord, PendingUpload } from './file';
import { keys, newRevision } from './ids';
import { checkRequestData, nameAndMime, type IncomingData } from './incoming';
import type { AssemblyJob, Services } from './ports';
import type { Principal } from './principal';
import { checkChunkNumber, type UploadParams } from './upload-params';

/**
 * Chunked uploads (ARCHITECTURE.md §4): chunks go to uploads/…/{revision}/{n} and are
 * recorded once each in the file's record; the request that records the last one claims the
 * assembly (exactly one wins) and the chunks become one object files/…/{revision}/data.
 */

export interface ChunkRequest {
  principal: Principal;
  params: UploadParams;
  data: IncomingData;
}

/** Chunks announced for this request: the query's, else the upload in progress's or declared. */
export function totalChunksOf(params: UploadParams, record: Partial<FileRecord>): number {
  return params.totalChunks ?? record.upload?.total_chunks ?? record.declared?.total_chunks ?? 1;
}

function checkFileSize(s: Services, bytes: number): void {
  if (bytes > s.limits.maxFileBytes) {
    throw tooLarge(`Files are limited to ${s.limits.maxFileBytes} bytes; this one has ${bytes}`);
  }
}

function newUpload(
  s: Services,
  record: Pick<FileRecord, 'declared'>,
  { params, data }: ChunkRequest,
  totalChunks: number,
): PendingUpload {
  const totalSize = params.totalSize ?? record.declared?.total_size ?? 0;
  checkFileSize(s, totalSize);
  return {
    revision: newRevision(),
    ...nameAndMime(params, record.declared, data),
    total_chunks: totalChunks,
    total_size: totalSize,
    started_at: s.now(),
    state: 'receiving',
    chunk_count: 0,
    chunk_sizes: {},
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

/** The first chunk of a file created by the same request: one write makes both. */
export async function firstChunkOfNewFile(
  s: Services,
  record: FileRecord,
  request: ChunkRequest,
): Promise<FileRecord> {
  const totalChunks = totalChunksOf(request.params, record);
  const chunkNumber = request.params.chunkNumber ?? 1;
  checkChunkNumber(chunkNumber, totalChunks);
  checkRequestData(request.data);
  const upload = newUpload(s, record, request, totalChunks);
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
    const overwrite = request.principal.kind === 'application';
    const started = await s.records.startUpload(
      record.company_id,
      record.id,
      newUpload(s, record, request, totalChunks),
      overwrite,
    );
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
  const totalChunks = totalChunksOf(request.params, record);
  const chunkNumber = request.params.chunkNumber ?? 1;
  checkChunkNumber(chunkNumber, totalChunks);
  checkRequestData(request.data);
  const { company_id: companyId, id: fileId } = record;
  const upload = await joinOrStart(s, record, request, totalChunks);

  // A chunk already recorded is not written again: retries never change bytes under an
  // assembly, and a lost reply's retry still moves the upload on.
  const recorded = upload.chunk_sizes[chunkNumber] !== undefined || upload.state !== 'receiving';
  if (!recorded) {
    const size = request.data.bytes.byteLength;
    const key = keys.chunk(companyId, fileId, upload.revision, chunkNumber);
    await s.blobs.put(key, request.data.bytes, 'application/octet-stream');
    const count = await s.records.recordChunk(
      companyId,
      fileId,
      upload.revision,
      chunkNumber,
      size,
    );
    if (count !== undefined && count < totalChunks) {
      return { ...record, upload: { ...upload, chunk_count: count } };
    }
  }
  return moveOn(s, companyId, fileId, upload.revision);
}

/**
 * After a chunk, or a retry of one: assemble if every chunk is in and nobody is assembling,
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
    if (size <= s.limits.syncAssemblyMaxBytes) return await assemble(s, record, upload, chunks);
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

async function assemble(
  s: Services,
  record: FileRecord,
  upload: PendingUpload,
  chunks: StoredChunk[],
): Promise<FileRecord> {
  const { company_id: companyId, id: fileId } = record;
  const { revision } = upload;
  await s.blobs.concatenate(planParts(chunks), keys.data(companyId, fileId, revision), upload.mime);
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
