import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { s3 } from '../helpers/aws';
import { Crc32c } from '@aws-sdk/checksums/crc';
import { createHash, randomUUID } from 'node:crypto';

// The local S3's multipart operations, held to S3's documented answers (ListParts,
// AbortMultipartUpload, CompleteMultipartUpload's errors), through the real SDK client.
const Bucket = process.env['BUCKET'];
const MiB = 1024 * 1024;

async function started() {
  const Key = `files/emulator-test/${randomUUID()}/r1/data`;
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  return { Bucket, Key, UploadId: UploadId! };
}

const part = (upload: Awaited<ReturnType<typeof started>>, PartNumber: number, size: number) =>
  s3
    .send(new UploadPartCommand({ ...upload, PartNumber, Body: Buffer.alloc(size, PartNumber) }))
    .then(({ ETag }) => ({ PartNumber, ETag: ETag! }));

/** The S3 error code a call fails with, and its HTTP status. */
async function refusal(call: Promise<unknown>) {
  try {
    await call;
  } catch (error) {
    if (error instanceof S3ServiceException) {
      return { code: error.name, status: error.$metadata.httpStatusCode };
    }
    throw error;
  }
  return { code: 'none', status: 200 };
}

test('ListParts lists the parts uploaded, in order, with their sizes and ETags, page by page', async () => {
  const upload = await started();
  const parts = [await part(upload, 2, 100), await part(upload, 1, 200), await part(upload, 3, 50)];
  const all = await s3.send(new ListPartsCommand(upload));
  expect(all.Parts?.map(({ PartNumber, Size, ETag }) => ({ PartNumber, Size, ETag }))).toEqual([
    { PartNumber: 1, Size: 200, ETag: parts[1]!.ETag },
    { PartNumber: 2, Size: 100, ETag: parts[0]!.ETag },
    { PartNumber: 3, Size: 50, ETag: parts[2]!.ETag },
  ]);
  expect(all.IsTruncated).toBe(false);

  const first = await s3.send(new ListPartsCommand({ ...upload, MaxParts: 2 }));
  expect(first.Parts?.map((p) => p.PartNumber)).toEqual([1, 2]);
  expect(first).toMatchObject({ IsTruncated: true, NextPartNumberMarker: '2' });
  const rest = await s3.send(
    new ListPartsCommand({ ...upload, PartNumberMarker: first.NextPartNumberMarker }),
  );
  expect(rest.Parts?.map((p) => p.PartNumber)).toEqual([3]);
  expect(rest.IsTruncated).toBe(false);
});

test('AbortMultipartUpload ends the upload: its parts are gone, a second abort is NoSuchUpload', async () => {
  const upload = await started();
  await part(upload, 1, 10);
  await s3.send(new AbortMultipartUploadCommand(upload));
  expect(await refusal(s3.send(new ListPartsCommand(upload)))).toEqual({
    code: 'NoSuchUpload',
    status: 404,
  });
  expect(await refusal(s3.send(new AbortMultipartUploadCommand(upload)))).toEqual({
    code: 'NoSuchUpload',
    status: 404,
  });
  expect(await refusal(part(upload, 2, 10))).toEqual({ code: 'NoSuchUpload', status: 404 });
});

test('an upload id that never existed, or of another key, is NoSuchUpload', async () => {
  const upload = await started();
  const never = { ...upload, UploadId: 'f'.repeat(32) };
  expect(await refusal(s3.send(new ListPartsCommand(never)))).toEqual({
    code: 'NoSuchUpload',
    status: 404,
  });
  expect(await refusal(part(never, 1, 10))).toEqual({ code: 'NoSuchUpload', status: 404 });
  const otherKey = { ...upload, Key: `${upload.Key}-other` };
  expect(await refusal(s3.send(new ListPartsCommand(otherKey)))).toEqual({
    code: 'NoSuchUpload',
    status: 404,
  });
});

test('part numbers outside 1..10000 are InvalidArgument', async () => {
  const upload = await started();
  expect(await refusal(part(upload, 0, 10))).toEqual({ code: 'InvalidArgument', status: 400 });
  expect(await refusal(part(upload, 10_001, 10))).toEqual({ code: 'InvalidArgument', status: 400 });
});

describe('CompleteMultipartUpload checks the parts as S3 does', () => {
  const complete = (
    upload: Awaited<ReturnType<typeof started>>,
    Parts: { PartNumber: number; ETag: string }[],
  ) => s3.send(new CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts } }));

  test('a part never uploaded, or with another ETag, is InvalidPart (and the emulator lives on)', async () => {
    const upload = await started();
    const one = await part(upload, 1, 10);
    expect(await refusal(complete(upload, [one, { PartNumber: 2, ETag: one.ETag }]))).toEqual({
      code: 'InvalidPart',
      status: 400,
    });
    expect(await refusal(complete(upload, [{ PartNumber: 1, ETag: '"0123"' }]))).toEqual({
      code: 'InvalidPart',
      status: 400,
    });
    // A part uploaded again replaces the first: its old ETag no longer completes.
    const again = await s3.send(
      new UploadPartCommand({ ...upload, PartNumber: 1, Body: Buffer.from('other bytes') }),
    );
    expect(await refusal(complete(upload, [one]))).toEqual({ code: 'InvalidPart', status: 400 });
    await complete(upload, [{ PartNumber: 1, ETag: again.ETag! }]);
    const { Body } = await s3.send(new GetObjectCommand({ Bucket, Key: upload.Key }));
    expect(await Body?.transformToString()).toBe('other bytes');
  });

  test('parts out of order are InvalidPartOrder; a small part but the last is EntityTooSmall', async () => {
    const upload = await started();
    const small = await part(upload, 1, 1000);
    const last = await part(upload, 2, 10);
    expect(await refusal(complete(upload, [last, small]))).toEqual({
      code: 'InvalidPartOrder',
      status: 400,
    });
    expect(await refusal(complete(upload, [small, last]))).toEqual({
      code: 'EntityTooSmall',
      status: 400,
    });
    const big = await part(upload, 1, 5 * MiB);
    await complete(upload, [big, last]);
  });

  test('completing twice: the second is NoSuchUpload', async () => {
    const upload = await started();
    const only = await part(upload, 1, 10);
    await complete(upload, [only]);
    expect(await refusal(complete(upload, [only]))).toEqual({ code: 'NoSuchUpload', status: 404 });
  });
});

describe('presigned requests are checked as S3 checks them', () => {
  const signer = (accessKeyId = 'S3RVER', secretAccessKey = 'S3RVER') =>
    new S3Client({
      endpoint: process.env['S3_ENDPOINT'],
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      credentials: { accessKeyId, secretAccessKey },
    });
  const object = async () => {
    const Key = `files/emulator-test/${randomUUID()}/r1/data`;
    await s3.send(new PutObjectCommand({ Bucket, Key, Body: 'signed bytes' }));
    return Key;
  };
  const code = async (response: Response) =>
    /<Code>([^<]+)<\/Code>/.exec(await response.text())?.[1] ?? 'none';

  test('a link signed right reads the object; altered, it is SignatureDoesNotMatch', async () => {
    const Key = await object();
    const url = await getSignedUrl(
      signer(),
      new GetObjectCommand({
        Bucket,
        Key,
        ResponseContentDisposition: 'attachment; filename="a b.txt"',
      }),
      { expiresIn: 60 },
    );
    const good = await fetch(url);
    expect([good.status, await good.text()]).toEqual([200, 'signed bytes']);
    expect(good.headers.get('content-disposition')).toBe('attachment; filename="a b.txt"');

    const altered = url.replace('filename%3D%22a%20b.txt', 'filename%3D%22evil.html');
    const refused = await fetch(altered);
    expect([refused.status, await code(refused)]).toEqual([403, 'SignatureDoesNotMatch']);
    const wrongSecret = await getSignedUrl(
      signer('S3RVER', 'not-the-secret'),
      new GetObjectCommand({ Bucket, Key }),
    );
    const byWrongSecret = await fetch(wrongSecret);
    expect([byWrongSecret.status, await code(byWrongSecret)]).toEqual([
      403,
      'SignatureDoesNotMatch',
    ]);
  });

  test('expired, of an unknown key, or with unsigned x-amz headers: refused', async () => {
    const Key = await object();
    const old = await getSignedUrl(signer(), new GetObjectCommand({ Bucket, Key }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 10 * 60_000),
    });
    const expired = await fetch(old);
    expect([expired.status, await code(expired)]).toEqual([403, 'AccessDenied']);
    const unknown = await fetch(
      await getSignedUrl(signer('NOBODY'), new GetObjectCommand({ Bucket, Key })),
    );
    expect([unknown.status, await code(unknown)]).toEqual([403, 'InvalidAccessKeyId']);
    const url = await getSignedUrl(signer(), new GetObjectCommand({ Bucket, Key }));
    const extra = await fetch(url, { headers: { 'x-amz-meta-extra': '1' } });
    expect([extra.status, await code(extra)]).toEqual([403, 'AccessDenied']);
  });

  test('a part URL signed with its length takes only a part of that length', async () => {
    const upload = await started();
    const body = Buffer.from('part bytes');
    const url = await getSignedUrl(
      signer(),
      new UploadPartCommand({ ...upload, PartNumber: 1, ContentLength: body.length }),
      { expiresIn: 60 },
    );
    const put = await fetch(url, { method: 'PUT', body });
    expect(put.status).toBe(200);
    expect(put.headers.get('etag')).toMatch(/^"[0-9a-f]{32}"$/);
    const listed = await s3.send(new ListPartsCommand(upload));
    expect(listed.Parts?.map((p) => p.Size)).toEqual([body.length]);
    const longer = await fetch(url, { method: 'PUT', body: Buffer.from('part bytes, and more') });
    expect([longer.status, await code(longer)]).toEqual([403, 'SignatureDoesNotMatch']);
  });
});

describe('part checksums are verified as S3 verifies them', () => {
  const body = Buffer.from('checksummed part');
  const crc32c = async (bytes: Buffer) => {
    const crc = new Crc32c();
    crc.update(bytes);
    return Buffer.from(await crc.digest()).toString('base64');
  };
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');

  test('the right CRC32C or SHA-256 is stored and listed; a wrong one is BadDigest, a malformed one InvalidRequest', async () => {
    const upload = await started();
    const ChecksumCRC32C = await crc32c(body);
    const stored = await s3.send(
      new UploadPartCommand({ ...upload, PartNumber: 1, Body: body, ChecksumCRC32C }),
    );
    expect(stored.ChecksumCRC32C).toBe(ChecksumCRC32C);
    await s3.send(
      new UploadPartCommand({ ...upload, PartNumber: 2, Body: body, ChecksumSHA256: sha256(body) }),
    );
    const listed = await s3.send(new ListPartsCommand(upload));
    expect(listed.Parts?.map(({ ChecksumCRC32C: c, ChecksumSHA256: s }) => [c, s])).toEqual([
      [ChecksumCRC32C, undefined],
      [undefined, sha256(body)],
    ]);

    const third = (checksum: { ChecksumCRC32C: string } | { ChecksumSHA256: string }) =>
      refusal(
        s3.send(new UploadPartCommand({ ...upload, PartNumber: 3, Body: body, ...checksum })),
      );
    const other = await crc32c(Buffer.from('other bytes'));
    expect(await third({ ChecksumCRC32C: other })).toEqual({ code: 'BadDigest', status: 400 });
    expect(await third({ ChecksumSHA256: sha256(Buffer.from('x')) })).toEqual({
      code: 'BadDigest',
      status: 400,
    });
    expect(await third({ ChecksumCRC32C: 'not base64!' })).toEqual({
      code: 'InvalidRequest',
      status: 400,
    });
    expect((await s3.send(new ListPartsCommand(upload))).Parts?.map((p) => p.PartNumber)).toEqual([
      1, 2,
    ]);
  });

  test('a part URL with its CRC32C signed in takes only those bytes, sent with that header', async () => {
    const upload = await started();
    const ChecksumCRC32C = await crc32c(body);
    const url = await getSignedUrl(
      s3,
      new UploadPartCommand({ ...upload, PartNumber: 1, ChecksumCRC32C }),
      {
        expiresIn: 60,
        unhoistableHeaders: new Set(['x-amz-checksum-crc32c']),
      },
    );
    const header = { 'x-amz-checksum-crc32c': ChecksumCRC32C };
    const wrong = await fetch(url, {
      method: 'PUT',
      body: Buffer.from('other bytes!!!!!'),
      headers: header,
    });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('<Code>BadDigest</Code>');
    const without = await fetch(url, { method: 'PUT', body });
    expect(without.status).toBe(403);
    const right = await fetch(url, { method: 'PUT', body, headers: header });
    expect(right.status).toBe(200);
    expect(right.headers.get('x-amz-checksum-crc32c')).toBe(ChecksumCRC32C);
  });
});

describe('an upload created with a checksum algorithm, as S3 keeps one', () => {
  const crc32c = async (bytes: Buffer) => {
    const crc = new Crc32c();
    crc.update(bytes);
    return Buffer.from(await crc.digest()).toString('base64');
  };

  test('takes only parts with that checksum, completes with them listed, answers the composite', async () => {
    const Key = `files/emulator-test/${randomUUID()}/r1/data`;
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32C' }),
    );
    const upload = { Bucket, Key, UploadId: UploadId! };
    const bodies = [Buffer.alloc(5 * MiB, 1), Buffer.alloc(1000, 2)];
    // (A small body: a large one may still be on its way when the refusal closes the
    // connection, and the SDK then meets EPIPE instead of the answer.)
    expect(
      await refusal(s3.send(new UploadPartCommand({ ...upload, PartNumber: 1, Body: bodies[1] }))),
    ).toEqual({ code: 'InvalidRequest', status: 400 });
    const sums = await Promise.all(bodies.map(crc32c));
    const parts = [];
    for (const [i, Body] of bodies.entries()) {
      const PartNumber = i + 1;
      const { ETag } = await s3.send(
        new UploadPartCommand({ ...upload, PartNumber, Body, ChecksumCRC32C: sums[i] }),
      );
      parts.push({ PartNumber, ETag: ETag!, ChecksumCRC32C: sums[i] });
    }
    // Listed without their checksums, the parts are not the ones held.
    const bare = parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag }));
    expect(
      await refusal(
        s3.send(
          new CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts: bare } }),
        ),
      ),
    ).toEqual({ code: 'InvalidPart', status: 400 });
    const completed = await s3.send(
      new CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts: parts } }),
    );
    const joined = Buffer.concat(sums.map((sum) => Buffer.from(sum, 'base64')));
    expect(completed.ChecksumCRC32C).toBe(`${await crc32c(joined)}-2`);
  });
});
