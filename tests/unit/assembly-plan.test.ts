import {
  MIN_PART_BYTES,
  chunksOfPart,
  chunksPerPart,
  isValidPart,
  partCount,
  partOf,
  planParts,
} from '../../lib/domain/assembly-plan';

const MiB = 1024 * 1024;

describe('grouping chunks into S3 parts', () => {
  test.each([
    [4 * MiB, 2],
    [2 * MiB, 3],
    [1 * MiB, 5],
    [5 * MiB, 1],
    [0, MIN_PART_BYTES],
  ])('%d-byte chunks: %d per part', (chunkBytes, perPart) => {
    expect(chunksPerPart(chunkBytes)).toBe(perPart);
  });

  test('chunk numbers to parts and back', () => {
    expect([1, 2, 3, 4, 5].map((n) => partOf(n, 2))).toEqual([1, 1, 2, 2, 3]);
    expect(chunksOfPart(3, 2, 5)).toEqual([5]);
    expect(chunksOfPart(2, 2, 5)).toEqual([3, 4]);
    expect(partCount(5, 2)).toBe(3);
  });

  test('every part but the last must reach 5 MiB', () => {
    expect(isValidPart(MIN_PART_BYTES - 1, 1, 2)).toBe(false);
    expect(isValidPart(MIN_PART_BYTES, 1, 2)).toBe(true);
    expect(isValidPart(1, 2, 2)).toBe(true);
  });

  test('regrouping odd chunk sizes: parts of at least 5 MiB, in order, nothing lost', () => {
    const sizes = [MiB, 3 * MiB, 512 * 1024, 4 * MiB, 2 * MiB, MiB, 100];
    const chunks = sizes.map((size, i) => ({ key: `c${i + 1}`, size }));
    const parts = planParts(chunks);
    expect(parts.flat()).toEqual(chunks);
    const bytes = parts.map((part) => part.reduce((sum, chunk) => sum + chunk.size, 0));
    bytes.slice(0, -1).forEach((size) => expect(size).toBeGreaterThanOrEqual(MIN_PART_BYTES));
    expect(parts.map((part) => part.map((chunk) => chunk.key))).toEqual([
      ['c1', 'c2', 'c3', 'c4'],
      ['c5', 'c6', 'c7'],
    ]);
  });

  test('an empty upload is one empty part', () => {
    expect(planParts([])).toEqual([[]]);
  });
});
