import type { FileRecord, PendingUpload } from '../../lib/domain/file';
import { hasChunk, totalChunksOf } from '../../lib/domain/uploads';

const base: FileRecord = {
  company_id: 'acme',
  id: '6b3e8f9a-5f0c-4d8e-9a41-2a7f3d9c1b20',
  user_id: 'u',
  application_id: null,
  created_at: 1,
  updated_at: 1,
};
const content = {
  revision: 'r1',
  name: 'a',
  mime: 'text/plain',
  size: 10,
  chunks: 3,
  thumbnails_status: 'done' as const,
  thumbnails: [],
};
const upload = (over: Partial<PendingUpload> = {}): PendingUpload => ({
  revision: 'r2',
  name: 'b',
  mime: 'text/plain',
  total_chunks: 3,
  total_size: 0,
  started_at: 1,
  state: 'receiving',
  chunk_count: 1,
  multipart_id: 'm',
  part_chunks: 2,
  ...over,
});

describe('totalChunksOf', () => {
  test('the query wins', () => {
    expect(totalChunksOf({ totalChunks: 4, thumbnailSync: false }, { upload: upload() })).toBe(4);
  });
  test('a chunk without a total belongs to the upload in progress', () => {
    expect(totalChunksOf({ chunkNumber: 2, thumbnailSync: false }, { upload: upload() })).toBe(3);
  });
  test('declared totals count before the first content only', () => {
    const declared = { total_chunks: 5 };
    expect(totalChunksOf({ thumbnailSync: false }, { declared })).toBe(5);
    expect(totalChunksOf({ thumbnailSync: false }, { declared, content })).toBe(1);
  });
  test('a request without chunk parameters is a whole file, even with an upload in progress', () => {
    expect(totalChunksOf({ thumbnailSync: false }, { content, upload: upload() })).toBe(1);
  });
});

describe("hasChunk (resumable.js's testChunks)", () => {
  // Chunk 2 is recorded unless a test says which are.
  const at = { now: 1000, overwriting: false, recorded: false };
  const has = (record: FileRecord, n: number, recorded: number[] = [2], options = at) =>
    hasChunk(record, n, { ...options, recorded: recorded.includes(n) });
  test('recorded chunks are stored, others are not', () => {
    const record = { ...base, upload: upload() };
    expect(has(record, 2)).toBe(true);
    expect(has(record, 1)).toBe(false);
  });
  test('a complete file has all its chunks, except for an application about to overwrite it', () => {
    expect(has({ ...base, content }, 3)).toBe(true);
    expect(has({ ...base, content }, 4)).toBe(false);
    expect(has({ ...base, content }, 1, [2], { ...at, overwriting: true })).toBe(false);
  });
  test('an upload being assembled under a live claim has every chunk', () => {
    const record = { ...base, upload: upload({ state: 'assembling', claim_until: 2000 }) };
    expect(has(record, 1)).toBe(true);
  });
  test('a stalled upload with every chunk in asks for its last chunk again', () => {
    const chunks = [1, 2, 3];
    const dead = upload({
      chunk_count: 3,
      state: 'assembling',
      claim: 1,
      claim_until: 500,
    });
    expect(has({ ...base, upload: dead }, 3, chunks)).toBe(false);
    expect(has({ ...base, upload: dead }, 2, chunks)).toBe(true);
    const unclaimed = upload({ chunk_count: 3 });
    expect(has({ ...base, upload: unclaimed }, 3, chunks)).toBe(false);
  });
});
