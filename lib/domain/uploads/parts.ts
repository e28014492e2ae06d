import {
  MAX_INLINE_CHUNKS,
  MAX_PART_BYTES,
  chunksOfPart,
  isValidPart,
  partCount,
  partOf,
  planParts,
  type StoredChunk,
} from '../assembly-plan';
import type { FileRecord, PendingUpload, ReceivedChunk, UploadedPart } from '../file';
import { keys } from '../ids';
import type { RecordServices, StorageServices } from '../ports';
import { revisionRef } from '../refs';
import { inParallel } from '../../parallel';
import { abortQuietly, bestEffort } from './cleanup';

/**
 * From recorded chunks to the revision's `data`, an S3 multipart upload: parts uploaded ahead
 * as their chunks come in, and the rest when completing.
 */

type Identified = Pick<FileRecord, 'company_id' | 'id'>;

/** Parts uploaded at once when completing: memory holds at most this many parts. */
const PART_CONCURRENCY = 2;
/**
 * How long completion waits for parts other requests are uploading (an 8 MiB part takes
 * 0.1-0.4 s; one whose upload failed is uploaded by completion after this), and how often
 * it looks.
 */
const PARTS_AHEAD_WAIT_MS = 1_000;
const PARTS_AHEAD_POLL_MS = 20;

export const bytesOf = (chunks: StoredChunk[]) =>
  chunks.reduce((sum, chunk) => sum + chunk.size, 0);

/** Where recorded chunk n is stored: its key follows from the upload and its nonce. */
function chunkKey(record: Identified, upload: PendingUpload, n: number, chunk: ReceivedChunk) {
  return keys.chunk(record.company_id, record.id, upload.revision, n, chunk.nonce);
}

/** Recorded chunks `numbers` of an upload, or undefined while one is missing. */
function inOrder(
  record: Identified,
  upload: PendingUpload,
  recorded: ReadonlyMap<number, ReceivedChunk>,
  numbers: number[],
): StoredChunk[] | undefined {
  const chunks: StoredChunk[] = [];
  for (const n of numbers) {
    const chunk = recorded.get(n);
    if (!chunk) return undefined;
    chunks.push({ key: chunkKey(record, upload, n, chunk), size: chunk.size });
  }
  return chunks;
}

/**
 * Uploads the part of `chunkNumber` if all its chunks are in, from this request's bytes and
 * the stored chunks; the one request that claims the part does. Only an optimisation:
 * completion uploads any part still missing, so a failure here costs time, never data.
 */
export async function uploadPartIfReady(
  s: StorageServices,
  record: Identified,
  upload: PendingUpload,
  chunkNumber: number,
  own: { key: string; bytes: Uint8Array },
): Promise<void> {
  const part = partOf(chunkNumber, upload.part_chunks);
  const numbers = chunksOfPart(part, upload.part_chunks, upload.total_chunks);
  if (numbers.length > MAX_INLINE_CHUNKS) return;
  const ref = revisionRef(record, upload.revision);
  const recorded = await s.records.chunks(ref, { from: numbers[0]!, to: numbers.at(-1)! });
  const chunks = inOrder(record, upload, recorded, numbers);
  if (!chunks) return;
  const size = bytesOf(chunks);
  const parts = partCount(upload.total_chunks, upload.part_chunks);
  if (!isValidPart(size, part, parts) || size > MAX_PART_BYTES) return;

  const { company_id: companyId, id: fileId } = record;
  await bestEffort(s, 'could not upload a part ahead', { fileId, part }, async () => {
    if (!(await s.records.claimPart(ref, part))) return;
    const etag = await s.blobs.uploadPart(
      keys.data(companyId, fileId, upload.revision),
      upload.multipart_id,
      part,
      chunks,
      new Map([[own.key, own.bytes]]),
    );
    await s.records.recordPart(ref, part, { etag, size });
  });
}

/** Every recorded chunk, checked to be in storage as recorded; undefined if one is not. */
export async function storedChunks(
  s: StorageServices,
  record: Identified,
  upload: PendingUpload,
): Promise<StoredChunk[] | undefined> {
  const [recorded, sizes] = await Promise.all([
    s.records.chunks(revisionRef(record, upload.revision)),
    s.blobs.sizes(keys.chunksPrefix(record.company_id, record.id, upload.revision)),
  ]);
  const numbers = Array.from({ length: upload.total_chunks }, (_, i) => i + 1);
  const chunks = inOrder(record, upload, recorded, numbers);
  const intact = chunks?.every((chunk) => sizes.get(chunk.key) === chunk.size);
  return intact ? chunks : undefined;
}

export interface AssemblyPlan {
  /** The upload's own grouping, with the parts uploaded ahead; false: regrouped. */
  reuse: boolean;
  groups: StoredChunk[][];
  /** What is left to upload: bytes and chunks. */
  toStream: number;
  chunksToStream: number;
}

/** How the chunks become parts: the upload's own grouping if S3 takes it, else regrouped. */
export function assemblyPlan(
  upload: PendingUpload,
  chunks: StoredChunk[],
  ahead: ReadonlyMap<number, UploadedPart>,
): AssemblyPlan {
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
  const missing = grouped.filter((group, i) => ahead.get(i + 1)?.size !== bytesOf(group));
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
 * Completion waits for them a little rather than upload them a second time. `ahead`: the
 * parts as the caller last read them.
 */
export async function awaitPartsAhead(
  s: RecordServices,
  record: Identified,
  upload: PendingUpload,
  chunks: StoredChunk[],
  ahead: ReadonlyMap<number, UploadedPart>,
): Promise<ReadonlyMap<number, UploadedPart>> {
  const ref = revisionRef(record, upload.revision);
  const deadline = s.now() + PARTS_AHEAD_WAIT_MS;
  let current = ahead;
  for (;;) {
    const plan = assemblyPlan(upload, chunks, current);
    if (!plan.reuse || plan.toStream === 0 || s.now() >= deadline) return current;
    await new Promise((resolve) => setTimeout(resolve, PARTS_AHEAD_POLL_MS));
    current = await s.records.parts(ref);
  }
}

/** Uploads the parts still missing and completes the multipart upload. */
export async function writeData(
  s: StorageServices,
  record: Identified,
  upload: PendingUpload,
  chunks: StoredChunk[],
  ahead: ReadonlyMap<number, UploadedPart>,
): Promise<void> {
  const key = keys.data(record.company_id, record.id, upload.revision);
  // An earlier attempt may have completed the multipart upload and then failed: S3 does not
  // take a second completion, and the object is already right.
  if ((await s.blobs.sizes(key)).get(key) === bytesOf(chunks)) return;
  const plan = assemblyPlan(upload, chunks, ahead);
  let uploadId = upload.multipart_id;
  if (!plan.reuse) {
    // Chunks came in other sizes than announced: a new multipart upload, regrouped.
    await abortQuietly(s, key, upload.multipart_id);
    uploadId = await s.blobs.startMultipart(key, upload.mime);
  }
  const parts = await inParallel(plan.groups, PART_CONCURRENCY, async (group, index) => {
    const part = index + 1;
    const uploaded = plan.reuse ? ahead.get(part) : undefined;
    const etag =
      uploaded?.size === bytesOf(group)
        ? uploaded.etag
        : await s.blobs.uploadPart(key, uploadId, part, group);
    return { part, etag };
  });
  await s.blobs.completeMultipart(key, uploadId, parts);
}
