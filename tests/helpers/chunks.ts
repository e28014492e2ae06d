import { call, filesUrl, multipart } from './api';
import { bearer } from './principals';

export const MiB = 1024 * 1024;

export type Naming = 'twake' | 'resumable';

/** The query of chunk n, in Twake's or resumable.js's parameter names. */
export function chunkQuery(
  naming: Naming,
  n: number,
  totalChunks: number,
  totalSize: number,
  filename: string,
): string {
  const params =
    naming === 'twake'
      ? { chunk_number: n, total_chunks: totalChunks, total_size: totalSize, filename }
      : {
          resumableChunkNumber: n,
          resumableTotalChunks: totalChunks,
          resumableTotalSize: totalSize,
          resumableFilename: filename,
          resumableIdentifier: `${totalSize}-${filename}`,
          resumableType: 'application/octet-stream',
        };
  return new URLSearchParams(
    Object.entries(params).map(([key, value]): [string, string] => [key, String(value)]),
  ).toString();
}

export function splitChunks(bytes: Buffer, chunkSize: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    chunks.push(bytes.subarray(offset, offset + chunkSize));
  }
  return chunks;
}

export interface ChunkedUpload {
  company: string;
  token: string;
  fileId: string;
  bytes: Buffer;
  chunks: Buffer[];
  naming: Naming;
  filename: string;
}

export function sendChunk(upload: ChunkedUpload, n: number) {
  const { company, token, fileId, bytes, chunks, naming, filename } = upload;
  const query = chunkQuery(naming, n, chunks.length, bytes.length, filename);
  return call<{ resource: { upload_data: { status: string; size: number; chunks: number } } }>(
    filesUrl(company, `/${fileId}?${query}`),
    {
      method: 'POST',
      headers: bearer(token),
      body: multipart(chunks[n - 1] ?? Buffer.alloc(0), 'blob', 'application/octet-stream'),
    },
  );
}

/** Sends chunk numbers with at most `parallel` requests in flight, as resumable.js does. */
export async function sendChunks(upload: ChunkedUpload, numbers: number[], parallel = 5) {
  const queue = [...numbers];
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
        const response = await sendChunk(upload, n);
        if (response.status !== 200) {
          throw new Error(`chunk ${n}: ${response.status} ${JSON.stringify(response.body)}`);
        }
        statuses.push(response.status);
      }
    }),
  );
  return statuses;
}

export function shuffled<T>(items: T[], seed = 7): T[] {
  const copy = [...items];
  let state = seed;
  for (let i = copy.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const j = state % (i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}
