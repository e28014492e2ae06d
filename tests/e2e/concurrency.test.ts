import { binaryBytes, call, downloadBytes, filesUrl, multipart, sha256 } from '../helpers/api';
import { objectKeys } from '../helpers/aws';
import { sendChunks, shuffled, splitChunks } from '../helpers/chunks';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

const company = newCompanyId();
let token: string;
let app: string;

beforeAll(async () => {
  [token, app] = await Promise.all([
    tokenFor({ company, user: 'conny' }),
    tokenFor({ company, application: 'racer' }),
  ]);
});

const download = (fileId: string) => downloadBytes(company, fileId, token);

test('20 files uploaded at once, 5 chunks each in parallel: every one byte-identical', async () => {
  const files = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const bytes = binaryBytes(5 * 256 * 1024 - i * 1000, 100 + i);
      const created = await call<{ resource: { id: string } }>(filesUrl(company), {
        method: 'POST',
        headers: bearer(token),
      });
      return {
        company,
        token,
        fileId: created.body.resource.id,
        bytes,
        chunks: splitChunks(bytes, 256 * 1024),
        naming: 'twake' as const,
        filename: `f${i}.bin`,
      };
    }),
  );
  await Promise.all(
    files.map((upload, i) => sendChunks(upload, shuffled([1, 2, 3, 4, 5], i + 1), 5)),
  );
  for (const upload of files) {
    const { bytes } = await download(upload.fileId);
    expect(sha256(bytes)).toBe(sha256(upload.bytes));
    expect(await objectKeys(`uploads/${company}/${upload.fileId}/`)).toEqual([]);
  }
});

test('an overwrite racing downloads: each download is the old or the new file, whole', async () => {
  const before = binaryBytes(300_000, 7);
  const after = binaryBytes(400_000, 8);
  const created = await call<{ resource: { id: string } }>(filesUrl(company), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(before, 'race.bin', 'application/zip'),
  });
  const fileId = created.body.resource.id;
  const digests = new Set([sha256(before), sha256(after)]);
  let overwriting = true;
  const readers = Array.from({ length: 3 }, async () => {
    const seen: string[] = [];
    while (overwriting || seen.length < 3) {
      const { status, bytes } = await download(fileId);
      // A link taken just before the switch may name the retired revision: 404, not bytes.
      if (status === 200) seen.push(sha256(bytes));
      else expect(status).toBe(404);
    }
    return seen;
  });
  const overwrite = await call(filesUrl(company, `/${fileId}`), {
    method: 'POST',
    headers: bearer(app),
    body: multipart(after, 'race.bin', 'application/zip'),
  });
  overwriting = false;
  expect(overwrite.status).toBe(200);
  const seen = (await Promise.all(readers)).flat();
  for (const digest of seen) expect(digests.has(digest)).toBe(true);
  expect(seen.at(-1)).toBe(sha256(after));
});

test('a delete racing an upload: the file is gone and nothing is left, whatever lands first', async () => {
  const bytes = binaryBytes(5 * 256 * 1024, 9);
  const created = await call<{ resource: { id: string } }>(filesUrl(company), {
    method: 'POST',
    headers: bearer(token),
  });
  const fileId = created.body.resource.id;
  const upload = {
    company,
    token,
    fileId,
    bytes,
    chunks: splitChunks(bytes, 256 * 1024),
    naming: 'twake' as const,
    filename: 'doomed.bin',
  };
  const sending = sendChunks(upload, [1, 2, 3, 4, 5], 5).catch(() => 'some chunks refused');
  const deleted = await call(filesUrl(company, `/${fileId}`), {
    method: 'DELETE',
    headers: bearer(token),
  });
  await sending;
  expect([200, 404]).toContain(deleted.status);
  // Chunks that lost the race clean up after themselves.
  expect((await call(filesUrl(company, `/${fileId}`), { headers: bearer(token) })).status).toBe(
    404,
  );
  expect(await objectKeys(`uploads/${company}/${fileId}/`)).toEqual([]);
  expect(await objectKeys(`files/${company}/${fileId}/`)).toEqual([]);
});
