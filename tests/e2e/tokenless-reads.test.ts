import { startLocalStack, stopLocalStack } from '../../scripts/local/stack-process';
import { binaryBytes, call, multipart, sha256 } from '../helpers/api';
import { image } from '../helpers/media';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

/**
 * A stack of its own, deployed as unmodified Twake clients need it (TOKENLESS_READS=true): the
 * download and thumbnail routes answer by ids alone; every other route still wants a token.
 */
let stack: Awaited<ReturnType<typeof startLocalStack>>;
let files: (company: string, rest?: string) => string;
const company = newCompanyId();
let token: string;
let fileId: string;
let png: Buffer;

beforeAll(async () => {
  stack = await startLocalStack({
    env: { TOKENLESS_READS: 'true', ESBUILD_WORK_FOLDER: '.esbuild-tokenless' },
  });
  files = (c, rest = '') => `${stack.info.api}/companies/${c}/files${rest}`;
  token = await tokenFor({ company, user: 'twake-web' }, stack);
  png = await image.png(320, 160);
  const created = await call<{ resource: { id: string; thumbnails: unknown[] } }>(
    files(company, '?thumbnail_sync=1'),
    { method: 'POST', headers: bearer(token), body: multipart(png, 'shared.png', 'image/png') },
  );
  expect(created.body.resource.thumbnails).toHaveLength(1);
  fileId = created.body.resource.id;
}, 150_000);

afterAll(async () => {
  if (stack) await stopLocalStack(stack);
});

test('the built thumbnail path and the download answer with no token', async () => {
  const thumbnail = await call(files(company, `/${fileId}/thumbnails/0`));
  expect(thumbnail.status).toBe(302);
  const download = await call(files(company, `/${fileId}/download`));
  expect(download.status).toBe(302);
  const bytes = Buffer.from(
    await (await fetch(download.headers.get('location') ?? '')).arrayBuffer(),
  );
  expect(sha256(bytes)).toBe(sha256(png));
});

test('resources carry the bare paths, and a stale signed link still reads', async () => {
  const read = await call<{ resource: { thumbnails: { url: string }[]; download_url: string } }>(
    files(company, `/${fileId}`),
    { headers: bearer(token) },
  );
  const path = `/internal/services/files/v1/companies/${company}/files/${fileId}`;
  expect(read.body.resource.thumbnails[0]?.url).toBe(`${path}/thumbnails/0`);
  expect(read.body.resource.download_url).toBe(`${path}/download`);
  // A link stored while the stack signed them, long expired: the ids still read.
  const stale = await call(files(company, `/${fileId}/thumbnails/0?expires=1&signature=old`));
  expect(stale.status).toBe(302);
});

test('ids must still name the file: another company, an unknown or malformed id are 404', async () => {
  for (const path of [
    files(newCompanyId(), `/${fileId}/download`),
    files(company, `/${crypto.randomUUID()}/download`),
    files(company, '/..%2F..%2Fx/download'),
    files(company, `/${fileId}/thumbnails/7`),
  ]) {
    expect((await call(path)).status).toBe(404);
  }
});

test('a token that is sent is still checked', async () => {
  const response = await call(files(company, `/${fileId}/download`), {
    headers: { authorization: 'Bearer not-a-token' },
  });
  expect(response.status).toBe(401);
});

test('metadata, uploads and deletes still need a token', async () => {
  expect((await call(files(company, `/${fileId}`))).status).toBe(401);
  const upload = await call(files(company), {
    method: 'POST',
    body: multipart(binaryBytes(9), 'a'),
  });
  expect(upload.status).toBe(401);
  expect((await call(files(company, `/${fileId}`), { method: 'DELETE' })).status).toBe(401);
});

test('an incomplete file is still a 409, not a link to nothing', async () => {
  const created = await call<{ resource: { id: string } }>(files(company, '?filename=a.bin'), {
    method: 'POST',
    headers: bearer(token),
    body: '{}',
  });
  expect((await call(files(company, `/${created.body.resource.id}/download`))).status).toBe(409);
});
