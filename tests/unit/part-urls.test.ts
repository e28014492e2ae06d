import { blobs } from '../../lib/aws/s3';

// Part URLs as AWS would get them: no endpoint, the SDK's default checksum settings.
beforeAll(() => {
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret' });
});

const key = 'files/acme/6b3e8f9a-5f0c-4d8e-9a41-2a7f3d9c1b20/r1/data';

test("a part URL carries no checksum of its own: the SDK's default (of an empty body) would refuse every part", async () => {
  const { url, headers } = await blobs.presignPart(key, 'upload-1', 3, { expiresInSeconds: 900 });
  const query = new URL(url).searchParams;
  expect([...query.keys()].filter((name) => /checksum/i.test(name))).toEqual([]);
  expect(query.get('partNumber')).toBe('3');
  expect(query.get('X-Amz-Expires')).toBe('900');
  expect(headers).toEqual({});
});

test('a bound checksum and size are signed headers the client must send as given', async () => {
  const checksum = { algorithm: 'CRC32C' as const, value: 'yZRlqg==' };
  const { url, headers } = await blobs.presignPart(key, 'upload-1', 1, {
    expiresInSeconds: 60,
    contentLength: 5242880,
    checksum,
  });
  const signed = new URL(url).searchParams.get('X-Amz-SignedHeaders')?.split(';');
  expect(signed).toEqual(
    expect.arrayContaining(['content-length', 'host', 'x-amz-checksum-crc32c']),
  );
  expect(new URL(url).searchParams.has('x-amz-checksum-crc32c')).toBe(false);
  expect(headers).toEqual({ 'x-amz-checksum-crc32c': 'yZRlqg==' });
});
