import { ListPartsCommand } from '@aws-sdk/client-s3';
import { binaryBytes, call, downloadBytes, filesUrl, multipart, sha256 } from '../helpers/api';
import { fileItem, objectKeys, s3 } from '../helpers/aws';
import {
  MiB,
  abort,
  complete,
  crc32c,
  createDirect,
  listParts,
  multipartUrl,
  partsOf,
  putPart,
  sendPart,
  signPart,
  started,
  uploadDirect,
} from '../helpers/direct';
import { image } from '../helpers/media';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

/**
 * Direct uploads through the running API, as Uppy's S3 plugin makes them: the parts go to the
 * local S3 with the URLs the service signs, and the file is then like any other.
 */

const company = newCompanyId();
const otherCompany = newCompanyId();
let alice: string;
let bob: string;
let app: string;
let outsider: string;

beforeAll(async () => {
  [alice, bob, app, outsider] = await Promise.all([
    tokenFor({ company, user: 'alice' }),
    tokenFor({ company, user: 'bob' }),
    tokenFor({ company, application: 'importer' }),
    tokenFor({ company: otherCompany, user: 'eve' }),
  ]);
});

/** S3's answer about the upload itself: its parts, or NoSuchUpload once it is gone. */
async function s3Upload(upload: { key: string; uploadId: string }): Promise<string> {
  try {
    const { Parts } = await s3.send(
      new ListPartsCommand({
        Bucket: process.env['BUCKET'],
        Key: upload.key,
        UploadId: upload.uploadId,
      }),
    );
    return `${Parts?.length ?? 0} parts`;
  } catch (error) {
    return (error as Error).name;
  }
}

const errorOf = (body: unknown) => body as { statusCode: number; error: string; message: string };

describe('a file sent straight to S3', () => {
  test('is created by the service under its key, completes, and downloads byte for byte', async () => {
    const bytes = binaryBytes(12 * MiB + 1, 21);
    const { upload, completed } = await uploadDirect(company, alice, {
      bytes,
      name: 'dataset.bin',
      type: 'application/octet-stream',
    });
    const fileId = upload.file_id;
    expect(upload.key).toMatch(new RegExp(`^files/${company}/${fileId}/r[0-9a-z]+/data$`));
    expect(upload.resource).toMatchObject({
      id: fileId,
      user_id: 'alice',
      upload_data: { size: bytes.length, chunks: 0, status: 'uploading' },
    });
    expect(completed.status).toBe(200);
    expect(completed.body.location).toBe(
      `/internal/services/files/v1/companies/${company}/files/${fileId}/download`,
    );
    expect(completed.body.resource).toMatchObject({
      id: fileId,
      metadata: { name: 'dataset.bin', mime: 'application/octet-stream' },
      upload_data: { size: bytes.length, chunks: 3, status: 'complete' },
    });
    const download = await downloadBytes(company, fileId, alice);
    expect([download.status, sha256(download.bytes)]).toEqual([200, sha256(bytes)]);
    // Nothing of the upload is left: S3 completed it, the record holds no upload.
    expect(await s3Upload(upload)).toBe('NoSuchUpload');
    expect(await fileItem(company, fileId)).not.toHaveProperty('upload');
    expect(await objectKeys(`uploads/${company}/${fileId}/`)).toEqual([]);
  });

  test('an image gets its thumbnails; with thumbnail_sync the completion waits for them', async () => {
    const png = await image.png(1200, 800);
    const { completed } = await uploadDirect(
      company,
      alice,
      { bytes: png, name: 'photo.png', type: 'image/png' },
      { query: '&thumbnail_sync=1' },
    );
    expect(completed.status).toBe(200);
    expect(completed.body.resource).toMatchObject({
      metadata: { thumbnails_status: 'done' },
      thumbnails: [{ index: 0, type: 'image/webp', width: 600, height: 400 }],
    });
  });

  test('without a declared size it is bounded by the limit only, and resumes from the parts S3 holds', async () => {
    const bytes = binaryBytes(11 * MiB, 22);
    const [first, second, third] = partsOf(bytes, 5 * MiB);
    const upload = await started(company, alice, { filename: 'resumed.bin' });
    await sendPart(company, alice, upload, 1, first!);
    await sendPart(company, alice, upload, 2, second!);
    // The client lost its state: what S3 holds is listed, the rest is sent.
    const listed = await listParts(company, alice, upload);
    expect(listed.status).toBe(200);
    expect(listed.body.map(({ PartNumber, Size }) => [PartNumber, Size])).toEqual([
      [1, 5 * MiB],
      [2, 5 * MiB],
    ]);
    const etag = await sendPart(company, alice, upload, 3, third!);
    const parts = [...listed.body, { PartNumber: 3, ETag: etag }].map(({ PartNumber, ETag }) => ({
      PartNumber,
      // Clients pass ETags on with or without S3's quotes.
      ETag: ETag.replaceAll('"', ''),
    }));
    const completed = await complete(company, alice, upload, parts);
    expect(completed.status).toBe(200);
    expect(completed.body.resource.upload_data).toMatchObject({ size: bytes.length, chunks: 3 });
    const download = await downloadBytes(company, upload.file_id, alice);
    expect(sha256(download.bytes)).toBe(sha256(bytes));
  });

  test('completing again answers the file as it was completed, and changes nothing', async () => {
    const bytes = binaryBytes(MiB, 23);
    const { upload, completed } = await uploadDirect(company, alice, {
      bytes,
      name: 'twice.bin',
      type: 'application/octet-stream',
    });
    const parts = [{ PartNumber: 1, ETag: 'any' }];
    const again = await complete(company, alice, upload, parts);
    expect(again.status).toBe(200);
    expect(again.body.resource).toEqual(completed.body.resource);
  });

  test('part checksums: bound into the URL, verified by S3, and the file keeps S3 checksum', async () => {
    const bytes = binaryBytes(6 * MiB, 24);
    const parts = partsOf(bytes, 5 * MiB);
    const upload = await started(company, alice, {
      filename: 'checked.bin',
      metadata: { size: bytes.length, checksum_algorithm: 'CRC32C' },
    });
    // A part without its checksum is not signed, one with a wrong checksum is refused by S3.
    const unsigned = await signPart(company, alice, upload, 1);
    expect(unsigned.status).toBe(400);
    expect(errorOf(unsigned.body).message).toMatch(/CRC32C/);
    const wrongSum = await crc32c(parts[1]!);
    const wrong = await signPart(
      company,
      alice,
      upload,
      1,
      `&checksum_crc32c=${encodeURIComponent(wrongSum)}`,
    );
    expect(wrong.body.headers).toEqual({ 'x-amz-checksum-crc32c': wrongSum });
    const refused = await putPart(wrong.body, parts[0]!);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('<Code>BadDigest</Code>');
    // The header is signed: a client cannot swap in another value.
    const swapped = await putPart(
      { url: wrong.body.url, headers: { 'x-amz-checksum-crc32c': await crc32c(parts[0]!) } },
      parts[0]!,
    );
    expect(swapped.status).toBe(403);

    const sums = await Promise.all(parts.map((part) => crc32c(part)));
    const etags = [];
    for (const [i, part] of parts.entries()) {
      const query = `&checksum_crc32c=${encodeURIComponent(sums[i]!)}&size=${part.length}`;
      etags.push(await sendPart(company, alice, upload, i + 1, part, query));
    }
    const listed = await listParts(company, alice, upload);
    expect(listed.body.map((part) => part.Checksum)).toEqual(sums);
    const completed = await complete(
      company,
      alice,
      upload,
      etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
    );
    expect(completed.status).toBe(200);
    // S3's composite checksum: the CRC32C of the parts' CRC32Cs, then their count.
    const joined = Buffer.concat(sums.map((sum) => Buffer.from(sum, 'base64')));
    expect(completed.body.resource.upload_data?.checksum).toEqual({
      algorithm: 'CRC32C',
      value: `${await crc32c(joined)}-2`,
    });
  });

  test('a part URL signed with its size takes exactly that many bytes', async () => {
    const upload = await started(company, alice, { filename: 'sized.bin' });
    const signed = await signPart(company, alice, upload, 1, `&size=${MiB}`);
    expect(signed.status).toBe(200);
    const longer = await fetch(signed.body.url, { method: 'PUT', body: binaryBytes(MiB + 1, 25) });
    expect(longer.status).toBe(403);
    expect((await putPart(signed.body, binaryBytes(MiB, 25))).status).toBe(200);
  });
});

describe('what a client can leave in S3', () => {
  test('with a part size declared, every part URL takes exactly its part: never more than the size', async () => {
    const size = 10 * MiB + 1;
    const upload = await started(company, alice, {
      filename: 'bounded.bin',
      metadata: { size, part_size: 5 * MiB },
    });
    const bytes = binaryBytes(size, 26);
    const [a, b, c] = partsOf(bytes, 5 * MiB);
    // Part 1's URL is for 5 MiB: fewer or more bytes are refused by S3's signature check.
    const first = await signPart(company, alice, upload, 1);
    expect((await putPart(first.body, binaryBytes(MiB, 26))).status).toBe(403);
    expect((await putPart(first.body, bytes.subarray(0, 5 * MiB + 1))).status).toBe(403);
    expect((await putPart(first.body, a!)).status).toBe(200);
    // The client cannot ask for another size, nor a part past the last.
    const resized = await signPart(company, alice, upload, 2, `&size=${6 * MiB}`);
    expect(resized.status).toBe(400);
    expect(errorOf(resized.body).message).toBe(`Part 2 of this upload holds ${5 * MiB} bytes`);
    expect((await signPart(company, alice, upload, 4)).status).toBe(400);
    const etags = [
      (await putPart(first.body, a!)).etag!,
      await sendPart(company, alice, upload, 2, b!),
      await sendPart(company, alice, upload, 3, c!),
    ];
    const done = await complete(
      company,
      alice,
      upload,
      etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
    );
    expect(done.status).toBe(200);
    expect(sha256((await downloadBytes(company, upload.file_id, alice)).bytes)).toBe(sha256(bytes));
  });

  test.each([
    [{ part_size: 5 * MiB }, /needs metadata.size/],
    [{ size: 20 * MiB, part_size: MiB }, /from 5 MiB to 5 GiB/],
    [{ size: 60000 * 5 * MiB, part_size: 5 * MiB }, /more than 10000 parts/],
  ])('a part size that cannot cut the file is refused: %j', async (metadata, message) => {
    const refused = await createDirect(company, alice, { metadata });
    expect(refused.status).toBe(400);
    expect(errorOf(refused.body).message).toMatch(message);
  });
});

describe('the same file afterwards', () => {
  test('an application overwrites it by a new revision; the old one stays readable until then', async () => {
    const first = binaryBytes(2 * MiB, 31);
    const { upload } = await uploadDirect(company, alice, {
      bytes: first,
      name: 'report.bin',
      type: 'application/octet-stream',
    });
    const fileId = upload.file_id;
    // Users may not overwrite a complete file, this way or the chunked one.
    const byUser = await createDirect(company, alice, { metadata: { file_id: fileId } });
    expect(byUser.status).toBe(403);

    const second = binaryBytes(6 * MiB, 32);
    const overwrite = await started(company, app, {
      filename: 'report-v2.bin',
      metadata: { file_id: fileId, size: second.length },
    });
    expect(overwrite.file_id).toBe(fileId);
    expect(overwrite.key).not.toBe(upload.key);
    // A second overwrite while one is in progress is refused, and so is a chunk.
    expect((await createDirect(company, app, { metadata: { file_id: fileId } })).status).toBe(409);
    const chunk = await call(filesUrl(company, `/${fileId}`), {
      method: 'POST',
      headers: bearer(app),
      body: multipart(binaryBytes(10, 1), 'x.bin'),
    });
    expect(chunk.status).toBe(409);
    const [a, b] = partsOf(second, 5 * MiB);
    const etags = [
      await sendPart(company, app, overwrite, 1, a!),
      await sendPart(company, app, overwrite, 2, b!),
    ];
    expect(sha256((await downloadBytes(company, fileId, alice)).bytes)).toBe(sha256(first));

    const done = await complete(
      company,
      app,
      overwrite,
      etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
    );
    expect(done.status).toBe(200);
    expect(done.body.resource.metadata?.name).toBe('report-v2.bin');
    expect(sha256((await downloadBytes(company, fileId, alice)).bytes)).toBe(sha256(second));
    // The replaced revision's objects are gone.
    const oldRevision = upload.key.replace(/data$/, '');
    expect(await objectKeys(oldRevision)).toEqual([]);
  });

  test('an application may abort its overwrite: the content stays as it was', async () => {
    const bytes = binaryBytes(MiB, 33);
    const { upload } = await uploadDirect(company, alice, {
      bytes,
      name: 'kept.bin',
      type: 'application/octet-stream',
    });
    const overwrite = await started(company, app, { metadata: { file_id: upload.file_id } });
    await sendPart(company, app, overwrite, 1, binaryBytes(MiB, 34));
    const aborted = await abort(company, app, overwrite);
    expect([aborted.status, aborted.body]).toEqual([200, {}]);
    expect(await s3Upload(overwrite)).toBe('NoSuchUpload');
    expect(sha256((await downloadBytes(company, upload.file_id, alice)).bytes)).toBe(sha256(bytes));
  });

  test('abort of a new file removes the file and everything S3 held', async () => {
    const upload = await started(company, alice, { filename: 'dropped.bin' });
    await sendPart(company, alice, upload, 1, binaryBytes(5 * MiB, 35));
    const aborted = await abort(company, alice, upload);
    expect([aborted.status, aborted.body]).toEqual([200, {}]);
    expect(await s3Upload(upload)).toBe('NoSuchUpload');
    expect(await fileItem(company, upload.file_id)).toBeUndefined();
    const read = await call(filesUrl(company, `/${upload.file_id}`), { headers: bearer(alice) });
    expect(read.status).toBe(404);
  });

  test('a delete during the upload leaves nothing in S3, and the upload cannot go on', async () => {
    const upload = await started(company, alice, { filename: 'deleted.bin' });
    const etag = await sendPart(company, alice, upload, 1, binaryBytes(MiB, 36));
    const deleted = await call(filesUrl(company, `/${upload.file_id}`), {
      method: 'DELETE',
      headers: bearer(alice),
    });
    expect(deleted.status).toBe(200);
    expect(await s3Upload(upload)).toBe('NoSuchUpload');
    expect(await objectKeys(`files/${company}/${upload.file_id}/`)).toEqual([]);
    const completed = await complete(company, alice, upload, [{ PartNumber: 1, ETag: etag }]);
    expect(completed.status).toBe(404);
    expect((await signPart(company, alice, upload, 2)).status).toBe(404);
  });
});

describe('racing requests never answer 5xx and never leave a half-done file', () => {
  test.each(['abort', 'delete'])('complete against %s, 6 times', async (other) => {
    for (let round = 0; round < 6; round++) {
      const upload = await started(company, alice, { filename: `race-${round}.bin` });
      const etags = [
        await sendPart(company, alice, upload, 1, binaryBytes(5 * MiB, 60 + round)),
        await sendPart(company, alice, upload, 2, binaryBytes(MiB, 70 + round)),
      ];
      const parts = etags.map((ETag, i) => ({ PartNumber: i + 1, ETag }));
      const [completed, ended] = await Promise.all([
        complete(company, alice, upload, parts),
        other === 'abort'
          ? abort(company, alice, upload)
          : call(filesUrl(company, `/${upload.file_id}`), {
              method: 'DELETE',
              headers: bearer(alice),
            }),
      ]);
      expect([completed.status, ended.status].every((status) => status < 500)).toBe(true);
      expect(await s3Upload(upload)).toBe('NoSuchUpload');
      const read = await call<{ resource: { upload_data: { status: string } } }>(
        filesUrl(company, `/${upload.file_id}`),
        { headers: bearer(alice) },
      );
      if (read.status === 200) {
        // The completion won and the abort was told so (409): the file is whole.
        expect([completed.status, ended.status]).toEqual([200, 409]);
        expect(read.body.resource.upload_data.status).toBe('complete');
        const download = await downloadBytes(company, upload.file_id, alice);
        expect(download.bytes.length).toBe(6 * MiB);
      } else {
        expect(read.status).toBe(404);
        expect(await objectKeys(`files/${company}/${upload.file_id}/`)).toEqual([]);
      }
    }
  });
});

describe('bad input gets a clear 4xx in the one error shape', () => {
  let upload: Awaited<ReturnType<typeof started>>;
  beforeAll(async () => {
    upload = await started(company, alice, {
      filename: 'target.bin',
      metadata: { size: String(6 * MiB) },
    });
  });

  test.each([
    ['part number 0', 0, 400],
    ['part number 10001', 10_001, 400],
    ['a part number that is not one', 'one', 400],
    ['more parts than the declared size can have', 3, 400],
  ])('%s', async (_, partNumber, status) => {
    const signed = await signPart(company, alice, upload, partNumber);
    expect(signed.status).toBe(status);
    expect(errorOf(signed.body)).toMatchObject({ statusCode: status, error: 'Bad Request' });
    expect(errorOf(signed.body).message).toMatch(/partNumber/);
  });

  test('signing for another key, upload id or company, or an upload id that never existed', async () => {
    const other = await started(company, alice, { filename: 'other.bin' });
    const cases = [
      // Another file's key with this upload id, and this key with another's id.
      [{ key: other.key, uploadId: upload.uploadId }, alice, 404],
      [{ key: upload.key, uploadId: other.uploadId }, alice, 404],
      [{ key: upload.key, uploadId: 'never-existed' }, alice, 404],
      [{ key: upload.key.replace(company, otherCompany), uploadId: upload.uploadId }, alice, 404],
      [{ key: '../../etc/passwd', uploadId: upload.uploadId }, alice, 400],
      [{ key: '', uploadId: upload.uploadId }, alice, 400],
    ] as const;
    for (const [target, token, status] of cases) {
      const signed = await signPart(company, token, target, 1);
      expect([JSON.stringify(target), signed.status]).toEqual([JSON.stringify(target), status]);
      expect(errorOf(signed.body).statusCode).toBe(status);
    }
    // Not a member of the company: 403, and nothing learnt about the upload.
    expect((await signPart(company, outsider, upload, 1)).status).toBe(403);
    expect((await signPart(otherCompany, outsider, upload, 1)).status).toBe(404);
    for (const call of [listParts, abort] as const) {
      const answer = await call(company, alice, { key: upload.key, uploadId: 'never-existed' });
      expect(answer.status).toBe(404);
    }
    const never = await complete(company, alice, { key: upload.key, uploadId: 'never-existed' }, [
      { PartNumber: 1, ETag: 'x' },
    ]);
    expect(never.status).toBe(404);
  });

  test("a user signs, lists, completes or aborts in another user's file: 403", async () => {
    expect((await signPart(company, bob, upload, 1)).status).toBe(403);
    expect((await listParts(company, bob, upload)).status).toBe(403);
    const completed = await complete(company, bob, upload, [{ PartNumber: 1, ETag: 'x' }]);
    expect(completed.status).toBe(403);
    expect(errorOf(completed.body).message).toMatch(/creator/);
    expect((await abort(company, bob, upload)).status).toBe(403);
    // An application may write any file of its company.
    expect((await signPart(company, app, upload, 1)).status).toBe(200);
  });

  test('a part list that disagrees with S3 is refused; the upload stays and completes', async () => {
    const mine = await started(company, alice, { filename: 'listed.bin' });
    const a = await sendPart(company, alice, mine, 1, binaryBytes(5 * MiB, 41));
    const b = await sendPart(company, alice, mine, 2, binaryBytes(MiB, 42));
    const wrong = [
      [
        { PartNumber: 1, ETag: a },
        { PartNumber: 2, ETag: '"0123456789abcdef0123456789abcdef"' },
      ],
      [{ PartNumber: 1, ETag: a }],
      [
        { PartNumber: 1, ETag: a },
        { PartNumber: 2, ETag: b },
        { PartNumber: 3, ETag: b },
      ],
      [
        { PartNumber: 2, ETag: b },
        { PartNumber: 1, ETag: a },
      ],
      [],
      'not a list',
      [{ PartNumber: 1 }],
    ];
    for (const parts of wrong) {
      const refused = await complete(company, alice, mine, parts);
      expect([JSON.stringify(parts), refused.status]).toEqual([JSON.stringify(parts), 400]);
      expect(errorOf(refused.body).error).toBe('Bad Request');
    }
    expect(await s3Upload(mine)).toBe('2 parts');
    const done = await complete(company, alice, mine, [
      { PartNumber: 1, ETag: a },
      { PartNumber: 2, ETag: b },
    ]);
    expect(done.status).toBe(200);
  });

  test('more bytes than declared: completion refuses and aborts the upload', async () => {
    const declared = await started(company, alice, {
      filename: 'declared.bin',
      metadata: { size: 6 * MiB },
    });
    const etags = [
      await sendPart(company, alice, declared, 1, binaryBytes(5 * MiB, 43)),
      await sendPart(company, alice, declared, 2, binaryBytes(MiB + 1, 44)),
    ];
    const refused = await complete(
      company,
      alice,
      declared,
      etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
    );
    expect(refused.status).toBe(409);
    expect(errorOf(refused.body).message).toMatch(
      /6291456 bytes were declared but S3 holds 6291457/,
    );
    expect(await s3Upload(declared)).toBe('NoSuchUpload');
    // A new file goes with its refused upload, as on abort: the client starts again.
    expect(await fileItem(company, declared.file_id)).toBeUndefined();
  });

  test('a part smaller than 5 MiB before the last is refused by name', async () => {
    const small = await started(company, alice, { filename: 'small.bin' });
    const etags = [
      await sendPart(company, alice, small, 1, binaryBytes(MiB, 45)),
      await sendPart(company, alice, small, 2, binaryBytes(MiB, 46)),
    ];
    const refused = await complete(
      company,
      alice,
      small,
      etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })),
    );
    expect(refused.status).toBe(400);
    expect(errorOf(refused.body).message).toMatch(/Part 1 holds 1048576 bytes/);
  });

  test('create: a size over the limit, a bad body, a bad file id or checksum algorithm', async () => {
    const tooBig = await createDirect(company, alice, { metadata: { size: 6 * 1024 ** 4 } });
    expect(tooBig.status).toBe(413);
    const cases: [unknown, number][] = [
      ['{not json', 400],
      ['[]', 400],
      [{ filename: 42 }, 400],
      [{ metadata: 'big' }, 400],
      [{ metadata: { size: -1 } }, 400],
      [{ metadata: { size: '12abc' } }, 400],
      [{ metadata: { checksum_algorithm: 'MD5' } }, 400],
      [{ metadata: { file_id: 'not-a-uuid' } }, 404],
      [{ metadata: { file_id: '6b3e8f9a-5f0c-4d8e-9a41-2a7f3d9c1b20' } }, 404],
    ];
    for (const [body, status] of cases) {
      const answer = await createDirect(
        company,
        alice,
        typeof body === 'string' ? body : (body as object),
      );
      expect([JSON.stringify(body), answer.status]).toEqual([JSON.stringify(body), status]);
      expect(errorOf(answer.body).statusCode).toBe(status);
    }
    const noToken = await call(multipartUrl(company), { method: 'POST', body: '{}' });
    expect(noToken.status).toBe(401);
    expect((await createDirect(company, outsider, {})).status).toBe(403);
  });
});
