import { badRequest } from './errors';

/**
 * An upload's query parameters, parsed by lib/http/upload-params.ts (ARCHITECTURE.md §3).
 */
export interface UploadParams {
  filename?: string;
  mime?: string;
  totalChunks?: number;
  totalSize?: number;
  chunkNumber?: number;
  thumbnailSync: boolean;
}

export const MAX_CHUNKS = 10_000;

/** The total may come from the upload in progress, so the domain checks again once it is known. */
export function checkChunkNumber(chunkNumber: number, totalChunks: number): void {
  if (chunkNumber < 1 || chunkNumber > totalChunks) {
    throw badRequest(`chunk_number must be between 1 and total_chunks (${totalChunks})`);
  }
}
