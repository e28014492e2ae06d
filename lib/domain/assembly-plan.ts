/** S3 multipart limits: every part but the last at least 5 MiB, at most 10,000 parts. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;

export interface StoredChunk {
  key: string;
  size: number;
}

/**
 * Groups consecutive chunks into multipart parts of at least 5 MiB (the last may be smaller).
 * Chunks are at most 4 MiB, so parts stay under 9 MiB and 10,000 chunks need at most 5,000.
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
