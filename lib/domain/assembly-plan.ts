/** S3 multipart limits: every part but the last at least 5 MiB, at most 10,000 parts. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/**
 * Parts are read into memory whole: a grouping announced by an upload is used only while its
 * parts stay this small (regrouped parts are under 9 MiB).
 */
export const MAX_PART_BYTES = 16 * 1024 * 1024;

/**
 * The most chunks a request reads back from S3 (one GET each) to upload a part or to complete
 * an upload before it answers: beyond it the request may not fit API Gateway's 29 s, however
 * few bytes the chunks hold. Such work goes to the asynchronous assembler.
 */
export const MAX_INLINE_CHUNKS = 200;

export interface StoredChunk {
  key: string;
  size: number;
}

/**
 * Chunks per multipart part for an upload, fixed when it starts so that every request knows
 * which part its chunk belongs to: enough chunks of the expected size to reach 5 MiB.
 */
export function chunksPerPart(expectedChunkBytes: number): number {
  return Math.max(1, Math.ceil(MIN_PART_BYTES / Math.max(1, expectedChunkBytes)));
}

/** Part p (1-based) holds chunks (p-1)*per+1 .. p*per. */
export function partOf(chunkNumber: number, perPart: number): number {
  return Math.ceil(chunkNumber / perPart);
}

export function chunksOfPart(part: number, perPart: number, totalChunks: number): number[] {
  const first = (part - 1) * perPart + 1;
  const last = Math.min(part * perPart, totalChunks);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

export function partCount(totalChunks: number, perPart: number): number {
  return Math.ceil(totalChunks / perPart);
}

/** S3 takes a part of this size at this place: at least 5 MiB unless it is the last one. */
export function isValidPart(bytes: number, part: number, parts: number): boolean {
  return part === parts || bytes >= MIN_PART_BYTES;
}

/**
 * Groups consecutive chunks into parts of at least 5 MiB (the last may be smaller), for
 * uploads whose chunks did not come out as announced. Chunks are at most 4 MiB, so parts stay
 * under 9 MiB and 10,000 chunks need at most 5,000 parts.
 */
export function planParts(chunks: readonly StoredChunk[]): StoredChunk[][] {
  const parts: StoredChunk[][] = [];
  let current: StoredChunk[] = [];
  let currentBytes = 0;
  for (const chunk of chunks) {
    current.push(chunk);
    currentBytes += chunk.size;
    if (currentBytes >= MIN_PART_BYTES) {
      parts.push(current);
      current = [];
      currentBytes = 0;
    }
  }
  if (current.length > 0 || parts.length === 0) parts.push(current);
  if (parts.length > MAX_PARTS) throw new Error(`${parts.length} parts exceed S3's ${MAX_PARTS}`);
  return parts;
}
