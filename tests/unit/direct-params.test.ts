import type { HttpEvent } from '../../lib/http/request';
import { DomainError } from '../../lib/domain/errors';
import {
  parseCompletedParts,
  parseCreate,
  parsePartSigning,
  readJsonBody,
} from '../../lib/http/direct-params';

const withBody = (body: string): HttpEvent =>
  ({ headers: {}, body, isBase64Encoded: false }) as unknown as HttpEvent;
const withQuery = (query: Record<string, string>): HttpEvent =>
  ({ headers: {}, queryStringParameters: query }) as unknown as HttpEvent;

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).kind).toBe('BadRequest');
    return (error as DomainError).message;
  }
  throw new Error('not refused');
}

test('a completion of 10,000 parts, as Uppy sends it, is read whole', () => {
  const parts = Array.from({ length: 10_000 }, (_, i) => ({
    ETag: `"${'0123456789abcdef'.repeat(2)}"`,
    PartNumber: i + 1,
  }));
  const body = JSON.stringify({ parts });
  expect(body.length).toBeGreaterThan(640 * 1024);
  const listed = parseCompletedParts(readJsonBody(withBody(body)));
  expect(listed).toHaveLength(10_000);
  expect(listed.at(-1)).toEqual({ part: 10_000, etag: parts.at(-1)!.ETag });
  expect(refusal(() => readJsonBody(withBody(`{"x":"${'a'.repeat(1024 * 1024)}"}`)))).toMatch(
    /at most 1048576 bytes/,
  );
});

test('a part list names the entry it refuses', () => {
  const parse = (parts: unknown) => () => parseCompletedParts({ parts });
  expect(refusal(parse([{ PartNumber: 0, ETag: 'a' }]))).toBe(
    'parts[0].PartNumber must be a whole number from 1 to 10000',
  );
  expect(refusal(parse([{ PartNumber: 1, ETag: 'a' }, { PartNumber: 2 }]))).toMatch(
    /^parts\[1\]\.ETag/,
  );
  expect(
    refusal(
      parse([
        { PartNumber: 2, ETag: 'a' },
        { PartNumber: 1, ETag: 'b' },
      ]),
    ),
  ).toMatch(/ascending/);
});

test("a checksum's + sent unencoded in the query (a space) is the + it was", () => {
  expect(parsePartSigning(withQuery({ checksum_crc32c: ' s3Vfw==' }))).toEqual({
    checksum: { algorithm: 'CRC32C', value: '+s3Vfw==' },
  });
  expect(refusal(() => parsePartSigning(withQuery({ checksum_crc32c: 'short' })))).toMatch(
    /base64/,
  );
});

test("the create's metadata: numbers as Uppy's meta fields carry them, strings included", () => {
  expect(
    parseCreate({ filename: 'a.bin', metadata: { size: '6291456', part_size: 5242880 } }),
  ).toMatchObject({ filename: 'a.bin', metadata: { size: 6291456, partSize: 5242880 } });
  expect(refusal(() => parseCreate({ metadata: { size: '1e9' } }))).toMatch(/metadata.size/);
});
