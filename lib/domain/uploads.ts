import {
  MAX_INLINE_CHUNKS,
  MAX_PART_BYTES,
  chunksOfPart,
  chunksPerPart,
  isValidPart,
  partCount,
  partOf,
  planParts,
  type StoredChunk,
} from './assembly-plan';
import { conflict, forbidden, notFound, tooLarge, type DomainError } from './errors';
import type { Content, FileRecord, PendingUpload } from './file';
import { keys, newChunkNonce, newRevision } from './ids';
import {
  MAX_REQUEST_DATA_BYTES,
  checkRequestData,
  nameAndMime,
  type IncomingData,
} from './incoming';
import type { AssemblyJob, RecordServices, Services, StorageServices } from './ports';
import type { Principal } from './principal';
import { inParallel } from '../parallel';
import { initialThumbnails } from './thumbnails';
import { checkChunkNumber, type UploadParams } from './upload-params';

/**
 * Chunked uploads (ARCHITECTURE.md §4). Each chunk attempt is written to a key of its own
 * under uploads/…/{revision}/ and the first one recorded in the file's record is the chunk.
 * The revision's `data` is an S3 multipart upload started with the upload: as soon as the
 * chunks of a part are all in, the request that brought the last of them uploads that part,
 * so the request that records the last chunk claims completion (exactly one wins, under a
 * fencing token) and has little left to do but S3's CompleteMultipartUpload. Parts that
 * could not be uploaded ahead are streamed then, or by the asynchronous assembler when that
 * is more than the request may take on.
 */

export interface ChunkRequest {
  principal: Principal;
  params: UploadParams;
  data: IncomingData;
}

/** Parts uploaded at once when completing: memory holds at most this many parts. */
const PART_CONCURRENCY = 2;
/** A completing request's claim: the upload functions time out after 29 s. */
const REQUEST_CLAIM_MS = 60_000;
/**
 * How long completion waits for parts other requests are uploading (an 8 MiB part takes
 * 0.1-0.4 s; one whose upload failed is uploaded by completion after this), and how often
 * it looks.
 */
const PARTS_AHEAD_WAIT_MS = 1_000;
const PARTS_AHEAD_POLL_MS = 20;
/** A user's retry of a chunk this soon after completion is answered, not refused. */
const RETRY_AFTER_COMPLETION_MS = 5 * 60_000;

/**
 * Chunks this request belongs to: the query's count; for a chunk of the upload in progress,
 * its count; before any content, what the create declared; otherwise a whole file.
 */
export function totalChunksOf(params: UploadParams, record: Partial<FileRecord>): number {
  if (params.totalChunks !== undefined) return params.totalChunks;
  if (params.chunkNumber !== undefined && record.upload) return record.upload.total_chunks;
  if (!record.content) return record.declared?.total_chunks ?? 1;
  return 1;
}

/** Declared values describe the first content only; an overwrite brings its own. */
export function declaredFor(record: Partial<FileRecord>) {
  return record.content ? undefined : record.declared;
}

const fileTooLarge = (s: RecordServices, bytes: number) =>
  tooLarge(`Files are limited to ${s.limits.maxFileBytes} bytes; this one has ${bytes}`);

export function checkFileSize(s: RecordServices, bytes: number): void {
  if (bytes > s.limits.maxFileBytes) throw fileTooLarge(s, bytes);
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
    chunks: {},
    multipart_id: await s.blobs.startMultipart(
      keys.data(record.company_id, record.id, revision),
      mime,
    ),
    part_chunks: chunksPerPart(expectedChunkBytes(totalSize, totalChunks, request)),
    parts: {},
  };
}

/** Best effort: the bucket's lifecycle rule aborts what this leaves. */
const abortQuietly = (s: StorageServices, key: string, uploadId: string) =>
  bestEffort(s, 'could not abort a multipart upload', { key }, () =>
    s.blobs.abortMultipart(key, uploadId),
  );

/** Ends what an upload holds in S3 (its multipart upload and its chunks); the record stays. */
export async function discardUpload(
  s: StorageServices,
  record: Pick<FileRecord, 'company_id' | 'id'>,
  upload: PendingUpload,
): Promise<void> {
  const { company_id: companyId, id: fileId } = record;
  const { revision } = upload;
  await abortQuietly(s, keys.data(companyId, fileId, revision), upload.multipart_id);
  await bestEffort(s, 'could not remove the chunks of an upload', { fileId, revision }, () =>
    s.blobs.deletePrefix(keys.chunksPrefix(companyId, fileId, revision)),
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

/** The first chunk of a file created by the same request: one write makes both. */
export async function firstChunkOfNewFile(
  s: StorageServices,
  record: FileRecord,
  request: ChunkRequest,
): Promise<FileRecord> {
  const { totalChunks, chunkNumber } = placeChunk(request, record);
  const upload = await newUpload(s, record, request, totalChunks);
  const { bytes } = request.data;
  const nonce = newChunkNonce();
  const key = keys.chunk(record.company_id, record.id, upload.revision, chunkNumber, nonce);
  await s.blobs.put(key, bytes, 'application/octet-stream');
  const created: FileRecord = {
    ...record,
    upload: {
      ...upload,
      chunk_count: 1,
      chunks: { [chunkNumber]: { size: bytes.byteLength, nonce } },
    },
  };
  await s.records.create(created);
  await uploadPartIfReady(s, created, chunkNumber, bytes);
  return created;
}

/** The upload in progress, or a new one (which replaces one too old to complete). */
async function joinOrStart(
  s: StorageServices,
  record: FileRecord,
  request: ChunkRequest,
  totalChunks: number,
): Promise<PendingUpload> {
  const current = record.upload;
  const stale =
    current?.state === 'receiving' && s.now() - current.started_at > s.limits.uploadMaxAgeMs;
  if (current && !stale) {
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
  const overwrite = request.principal.kind === 'application';
  const started = await s.records.startUpload(record.company_id, record.id, candidate, {
    overwrite,
    replacing: stale ? current.revision : undefined,
    retriedSince: overwrite ? s.now() - RETRY_AFTER_COMPLETION_MS : undefined,
  });
  const upload = started?.upload ?? (await s.records.get(record.company_id, record.id))?.upload;
  if (upload?.revision !== candidate.revision) await discardUpload(s, record, candidate);
  if (stale && upload?.revision === candidate.revision) await discardUpload(s, record, current);
  if (!upload) {
    const now = await s.records.get(record.company_id, record.id);
    if (!now || now.deleting) throw notFound('File not found');
    if (overwrite) {
      // Refused while a late retry of the content is noted (startUpload's condition), even
      // if that window closed since; otherwise the record changed under this request.
      throw now.content?.retried
        ? retriedConflict(s, now.content)
        : conflict('The file changed during this request; retry');
    }
    throw forbidden('This file is complete: only applications can overwrite it');
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

  // A chunk already recorded is not written again, and a lost reply's retry still moves
  // the upload on.
  if (upload.chunks[chunkNumber] === undefined && upload.state === 'receiving') {
    const { bytes } = request.data;
    const nonce = newChunkNonce();
    const key = keys.chunk(companyId, fileId, upload.revision, chunkNumber, nonce);
    await s.blobs.put(key, bytes, 'application/octet-stream');
    const chunk = { size: bytes.byteLength, nonce };
    const after = await s.records.recordChunk(
      companyId,
      fileId,
      upload.revision,
      chunkNumber,
      chunk,
    );
    if (after?.upload) {
      await uploadPartIfReady(s, after, chunkNumber, bytes);
      if (after.upload.chunk_count < totalChunks) return after;
    } else {
      // Another attempt at this chunk was recorded first: ours counts for nothing.
      await bestEffort(s, 'could not remove an unrecorded chunk', { fileId, key }, () =>
        s.blobs.deletePrefix(key),
      );
    }
  }
  return moveOn(s, companyId, fileId, upload.revision);
}

/** Where recorded chunk n is stored: its key follows from the upload and its nonce. */
function storedChunk(
  record: Pick<FileRecord, 'company_id' | 'id'>,
  upload: PendingUpload,
  n: number,
): StoredChunk | undefined {
  const chunk = upload.chunks[n];
  if (!chunk) return undefined;
  const key = keys.chunk(record.company_id, record.id, upload.revision, n, chunk.nonce);
  return { key, size: chunk.size };
}

/** Recorded chunks n of an upload, or undefined while one is missing. */
function recordedChunks(
  record: Pick<FileRecord, 'company_id' | 'id'>,
  upload: PendingUpload,
  numbers: number[],
): StoredChunk[] | undefined {
  const chunks = numbers.map((n) => storedChunk(record, upload, n));
  return chunks.every((chunk) => chunk !== undefined) ? (chunks as StoredChunk[]) : undefined;
}

const bytesOf = (chunks: StoredChunk[]) => chunks.reduce((sum, chunk) => sum + chunk.size, 0);

/**
 * Uploads the part of `chunkNumber` if all its chunks are in, from this request's bytes and
 * the stored chunks. Only an optimisation: completion uploads any part still missing, so a
 * failure here costs time, never data.
 */
async function uploadPartIfReady(
  s: StorageServices,
  record: FileRecord,
  chunkNumber: number,
  bytes: Uint8Array,
): Promise<void> {
  const upload = record.upload;
  if (!upload) return;
  const part = partOf(chunkNumber, upload.part_chunks);
  const numbers = chunksOfPart(part, upload.part_chunks, upload.total_chunks);
  const chunks = recordedChunks(record, upload, numbers);
  if (!chunks || upload.parts[part] || chunks.length > MAX_INLINE_CHUNKS) return;
  const size = bytesOf(chunks);
  const parts = partCount(upload.total_chunks, upload.part_chunks);
  if (!isValidPart(size, part, parts) || size > MAX_PART_BYTES) return;

  const { company_id: companyId, id: fileId } = record;
  const own = storedChunk(record, upload, chunkNumber)?.key ?? '';
  await bestEffort(s, 'could not upload a part ahead', { fileId, part }, async () => {
    const etag = await s.blobs.uploadPart(
      keys.data(companyId, fileId, upload.revision),
      upload.multipart_id,
      part,
      chunks,
      new Map([[own, bytes]]),
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
  return finishUpload(s, record, upload);
}

/** The recorded chunks, checked to be in storage as recorded. */
async function storedChunks(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
): Promise<StoredChunk[] | undefined> {
  const sizes = await s.blobs.sizes(
    keys.chunksPrefix(record.company_id, record.id, upload.revision),
  );
  const numbers = Array.from({ length: upload.total_chunks }, (_, i) => i + 1);
  const chunks = recordedChunks(record, upload, numbers);
  const intact = chunks?.every((chunk) => sizes.get(chunk.key) === chunk.size);
  return intact ? chunks : undefined;
}

/** How the chunks become parts: the upload's own grouping if S3 takes it, else regrouped. */
function assemblyPlan(upload: PendingUpload, chunks: StoredChunk[]) {
  const parts = partCount(upload.total_chunks, upload.part_chunks);
  const grouped = Array.from({ length: parts }, (_, i) =>
    chunksOfPart(i + 1, upload.part_chunks, upload.total_chunks).map((n) => chunks[n - 1]!),
  );
  const fits = grouped.every(
    (group, i) => isValidPart(bytesOf(group), i + 1, parts) && bytesOf(group) <= MAX_PART_BYTES,
  );
  if (!fits) {
    return {
      reuse: false,
      groups: planParts(chunks),
      toStream: bytesOf(chunks),
      chunksToStream: chunks.length,
    };
  }
  const missing = grouped.filter((group, i) => upload.parts[i + 1]?.size !== bytesOf(group));
  return {
    reuse: true,
    groups: grouped,
    toStream: missing.reduce((sum, g) => sum + bytesOf(g), 0),
    chunksToStream: missing.reduce((sum, g) => sum + g.length, 0),
  };
}

/**
 * Parts that other requests are still uploading ahead: the chunks of each were all recorded
 * (so the request that brought the last of them is uploading it) but the part was not yet.
 * Completion waits for them a little rather than upload them a second time (with 5 chunks in
 * flight, the last ones land together: one or two 8 MiB parts were sent twice per upload).
 */
async function awaitPartsAhead(
  s: RecordServices,
  record: FileRecord,
  upload: PendingUpload,
  chunks: StoredChunk[],
): Promise<PendingUpload> {
  const deadline = s.now() + PARTS_AHEAD_WAIT_MS;
  let current = upload;
  for (;;) {
    const plan = assemblyPlan(current, chunks);
    if (!plan.reuse || plan.toStream === 0 || s.now() >= deadline) return current;
    await new Promise((resolve) => setTimeout(resolve, PARTS_AHEAD_POLL_MS));
    const next = await s.records.get(record.company_id, record.id);
    if (next?.upload?.revision !== upload.revision) return current;
    current = { ...current, parts: next.upload.parts };
  }
}

/** An upload that can never complete as sent is dropped, so the client can start again. */
async function refuse(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  error: DomainError,
): Promise<never> {
  await s.records.cancelUpload(record.company_id, record.id, upload.revision);
  await discardUpload(s, record, upload);
  throw error;
}

/**
 * Every chunk is in: claims the assembly (exactly one caller wins), then makes the content in
 * this request when that fits it, or hands it to the asynchronous assembler (`assembling`).
 */
async function finishUpload(
  s: Services,
  record: FileRecord,
  upload: PendingUpload,
): Promise<FileRecord> {
  const { company_id: companyId, id: fileId } = record;
  const { revision } = upload;
  const claim = s.now();
  if (
    !(await s.records.claimAssembly(companyId, fileId, revision, claim, claim + REQUEST_CLAIM_MS))
  ) {
    const now = await s.records.get(companyId, fileId);
    if (!now || now.deleting) throw notFound('File not found');
    return now;
  }
  try {
    const chunks = await storedChunks(s, record, upload);
    if (!chunks) {
      return await refuse(
        s,
        record,
        upload,
        conflict('Chunks of this upload expired or were lost before it completed; start it again'),
      );
    }
    const size = bytesOf(chunks);
    if (upload.total_size && size !== upload.total_size) {
      return await refuse(
        s,
        record,
        upload,
        conflict(
          `total_size=${upload.total_size} disagrees with the ${size} bytes received in ` +
            `${upload.total_chunks} chunks; start the upload again`,
        ),
      );
    }
    if (size > s.limits.maxFileBytes) {
      return await refuse(s, record, upload, fileTooLarge(s, size));
    }
    const plan = assemblyPlan(upload, chunks);
    if (
      plan.toStream <= s.limits.syncAssemblyMaxBytes &&
      plan.chunksToStream <= MAX_INLINE_CHUNKS
    ) {
      const ready = await awaitPartsAhead(s, record, upload, chunks);
      return await assemble(s, record, ready, claim, chunks);
    }
    const until = s.now() + s.limits.assemblyLeaseMs;
    if (!(await s.records.renewClaim(companyId, fileId, revision, claim, until))) {
      throw conflict('The upload changed while completing; retry');
    }
    await s.assemblies.enqueue({ company_id: companyId, file_id: fileId, revision, claim });
    return { ...record, upload: { ...upload, state: 'assembling', claim, claim_until: until } };
  } catch (error) {
    await s.records.releaseAssembly(companyId, fileId, revision, claim);
    throw error;
  }
}

/**
 * The asynchronous assembler's entry point. It works under the claim handed over with the
 * job; when Lambda retries it after a failure (which gave the claim back) it claims anew.
 */
export async function runAssembly(s: StorageServices, job: AssemblyJob): Promise<void> {
  const record = await s.records.get(job.company_id, job.file_id);
  const upload = record?.upload;
  if (!record || record.deleting || upload?.revision !== job.revision) return;
  let claim = job.claim;
  if (upload.state !== 'assembling' || upload.claim !== claim) {
    claim = s.now();
    const until = claim + s.limits.assemblyLeaseMs;
    if (!(await s.records.claimAssembly(job.company_id, job.file_id, job.revision, claim, until))) {
      return; // complete, or assembled by a live holder
    }
  }
  try {
    const chunks = await storedChunks(s, record, upload);
    if (!chunks) throw new Error(`chunks of ${job.revision} are missing`);
    await assemble(s, record, upload, claim, chunks);
  } catch (error) {
    await s.records.releaseAssembly(job.company_id, job.file_id, job.revision, claim);
    throw error;
  }
}

/** Uploads the parts still missing and completes the multipart upload. */
async function writeData(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  chunks: StoredChunk[],
): Promise<void> {
  const key = keys.data(record.company_id, record.id, upload.revision);
  // An earlier attempt may have completed the multipart upload and then failed: S3 does not
  // take a second completion, and the object is already right.
  if ((await s.blobs.sizes(key)).get(key) === bytesOf(chunks)) return;
  const plan = assemblyPlan(upload, chunks);
  let uploadId = upload.multipart_id;
  if (!plan.reuse) {
    // Chunks came in other sizes than announced: a new multipart upload, regrouped.
    await abortQuietly(s, key, upload.multipart_id);
    uploadId = await s.blobs.startMultipart(key, upload.mime);
  }
  const parts = await inParallel(plan.groups, PART_CONCURRENCY, async (group, index) => {
    const part = index + 1;
    const ahead = plan.reuse ? upload.parts[part] : undefined;
    const etag =
      ahead?.size === bytesOf(group)
        ? ahead.etag
        : await s.blobs.uploadPart(key, uploadId, part, group);
    return { part, etag };
  });
  await s.blobs.completeMultipart(key, uploadId, parts);
}

async function assemble(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  claim: number,
  chunks: StoredChunk[],
): Promise<FileRecord> {
  const { company_id: companyId, id: fileId } = record;
  const { revision } = upload;
  await writeData(s, record, upload, chunks);
  const size = bytesOf(chunks);
  const content: Content = {
    revision,
    name: upload.name,
    mime: upload.mime,
    size,
    chunks: upload.total_chunks,
    chunk_size: uniformChunkSize(chunks),
    ...initialThumbnails(s, { mime: upload.mime, name: upload.name, size }),
    completed_at: s.now(),
  };
  const completed = await s.records.completeUpload(companyId, fileId, revision, claim, content);
  if (!completed) {
    const now = await s.records.get(companyId, fileId);
    if (now && !now.deleting && now.content?.revision === revision) return now; // a twin finished
    if (!now || now.deleting || now.upload?.revision !== revision) {
      // Deleted or replaced while assembling: these bytes belong to nothing.
      await s.blobs.deletePrefix(keys.revisionPrefix(companyId, fileId, revision));
      await s.blobs.deletePrefix(keys.chunksPrefix(companyId, fileId, revision));
      throw notFound('File not found');
    }
    throw conflict('The upload changed while completing; retry');
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
export async function dropRevision(s: StorageServices, record: FileRecord, revision: string) {
  await bestEffort(s, 'could not remove a replaced revision', { fileId: record.id, revision }, () =>
    s.blobs.deletePrefix(keys.revisionPrefix(record.company_id, record.id, revision)),
  );
}

/** Completes an upload whose chunks are all in but whose completion died (the sweeper). */
export async function resumeUpload(s: Services, record: FileRecord): Promise<FileRecord> {
  if (!record.upload) return record;
  return finishUpload(s, record, record.upload);
}

/** Drops an upload that will never complete from the record and S3, keeping the content. */
export async function dropUpload(s: StorageServices, record: FileRecord): Promise<void> {
  if (!record.upload) return;
  await s.records.cancelUpload(record.company_id, record.id, record.upload.revision);
  await discardUpload(s, record, record.upload);
}

/** The size of every chunk but the last, when they are all alike. */
function uniformChunkSize(chunks: StoredChunk[]): number | undefined {
  const size = chunks[0]?.size;
  const alike = chunks.slice(0, -1).every((chunk) => chunk.size === size);
  return chunks.length > 1 && alike ? size : undefined;
}

/**
 * A chunk of the upload that just completed, sent again (its reply was lost): the same
 * totals, within minutes. Harmless, so answered rather than refused or taken for the start of
 * an overwrite. A user cannot overwrite, so for a user that is enough. An application can:
 * its chunk is a retry only if it holds the very bytes at its place in the content. Taken for
 * an overwrite, it started an upload of its own that a later overwrite with as many chunks
 * joined, keeping this stale chunk in place of its own.
 */
export async function isLateRetry(
  s: StorageServices,
  record: FileRecord,
  request: { principal: Principal; params: UploadParams; data: IncomingData | undefined },
): Promise<boolean> {
  const { content } = record;
  const { params, data } = request;
  if (!content || !sameTotalsSoonAfter(s, record, params)) return false;
  if (request.principal.kind === 'user') return true;

  const place = chunkPlace(content, params.chunkNumber ?? 0);
  if (!place || data?.bytes.byteLength !== place.length) return false;
  if (place.length > 0) {
    const key = keys.data(record.company_id, record.id, content.revision);
    const stored = await s.blobs.getRange(key, place.start, place.length);
    if (!stored) return false;
    const view = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    if (!view.equals(data.bytes)) return false;
  }
  // An upload started since the record was read (this chunk's siblings, sent at once): the
  // chunk belongs to it. Past the window (the comparison took time), it is an overwrite.
  const since = s.now() - RETRY_AFTER_COMPLETION_MS;
  return s.records.markRetried(record.company_id, record.id, content.revision, since);
}

/**
 * A chunk with the totals of the content that completed minutes ago, no upload in progress:
 * a late retry of that upload, or the start of an overwrite with as many chunks.
 */
function sameTotalsSoonAfter(s: RecordServices, record: FileRecord, params: UploadParams) {
  const { content } = record;
  if (!content?.completed_at || record.upload || params.chunkNumber === undefined) return false;
  const sameTotals =
    params.totalChunks === content.chunks &&
    (!params.totalSize || params.totalSize === content.size);
  return sameTotals && s.now() - content.completed_at < RETRY_AFTER_COMPLETION_MS;
}

/**
 * An application's overwrite cannot start with as many chunks as the content that completed
 * minutes ago once one of that content's chunks was answered as a late retry: the client may
 * have sent a chunk of this overwrite that happened to hold the same bytes (answered, so
 * missing from it), or the retry was the old upload's and the overwrite's own chunk is still
 * to come. Either way this upload could end stuck or mixed; refused until the window ends.
 */
export function checkNoRetriedChunk(s: RecordServices, record: FileRecord, params: UploadParams) {
  if (!record.content?.retried || !sameTotalsSoonAfter(s, record, params)) return;
  throw retriedConflict(s, record.content);
}

function retriedConflict(s: RecordServices, content: Content): DomainError {
  const endsAt = (content.completed_at ?? 0) + RETRY_AFTER_COMPLETION_MS;
  const wait = Math.max(0, Math.ceil((endsAt - s.now()) / 1000));
  return conflict(
    `A chunk of this file's last upload (total_chunks=${content.chunks}) was sent again after ` +
      `it completed; an overwrite with as many chunks can start in ${wait} s`,
  );
}

/** Where chunk n lies in a completed content, when its chunks were alike. */
function chunkPlace(content: Content, n: number): { start: number; length: number } | undefined {
  const { chunk_size: size, chunks } = content;
  if (!size || chunks < 2 || n < 1 || n > chunks) return undefined;
  const start = (n - 1) * size;
  return { start, length: n < chunks ? size : content.size - start };
}

async function bestEffort(
  s: RecordServices,
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

/**
 * resumable.js's `testChunks`: is chunk n of the upload already stored? An upload whose
 * chunks are all in but whose completion died asks for its last chunk again: re-sending it
 * completes the upload.
 */
export function hasChunk(
  record: FileRecord,
  chunkNumber: number,
  { now, overwriting }: { now: number; overwriting: boolean },
): boolean {
  const { upload, content } = record;
  // An application about to overwrite a complete file has sent none of its new chunks yet.
  if (!upload) return !overwriting && content !== undefined && chunkNumber <= content.chunks;
  const allIn = upload.chunk_count >= upload.total_chunks;
  const stalled = upload.state === 'receiving' || (upload.claim_until ?? 0) < now;
  if (allIn && stalled && chunkNumber === upload.total_chunks) return false;
  return upload.state === 'assembling' || upload.chunks[chunkNumber] !== undefined;
}
