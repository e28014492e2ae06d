import { binaryBytes, call, filesUrl, multipart, sha256 } from '../helpers/api';
import { fileItem, objectKeys } from '../helpers/aws';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

type Resource = {
  id: string;
  company_id: string;
  user_id: string | null;
  application_id: string | null;
  created_at: number;
  updated_at: number;
  metadata: { name?: string; mime?: string; thumbnails_status?: string } | null;
  thumbnails: unknown[];
  upload_data: { size: number; chunks: number } | null;
};

const company = newCompanyId();
let alice: string;

beforeAll(async () => {
  alice = await tokenFor({ company, user: 'alice' });
});

async function upload(body: RequestInit['body'], query = '', headers: Record<string, string> = {}) {
  return call<{ resource: Resource }>(filesUrl(company, query), {
    method: 'POST',
    headers: { ...bearer(alice), ...headers },
    body,
  });
}

/** Follows the download redirect by hand, as a browser would. */
async function download(fileId: string, token = alice) {
  const redirect = await call(filesUrl(company, `/${fileId}/download`), { headers: bearer(token) });
  expect(redirect.status).toBe(302);
  const location = redirect.headers.get('location') ?? '';
  const object = await fetch(location);
  return { redirect, object, bytes: Buffer.from(await object.arrayBuffer()) };
}

describe('a single-request upload, end to end through the offline API', () => {
  test.each([
    // Types without previews: thumbnails are `done` and empty at once (see thumbnails.test.ts).
    [
      'an archive (multipart, as Twake sends it)',
      'archive.zip',
      'application/zip',
      binaryBytes(70_000),
    ],
    ['a text file', 'notes.txt', 'text/plain', Buffer.from('Serverless Files\n'.repeat(100))],
  ])('%s: stored, described, downloaded byte for byte, deleted', async (_, name, mime, bytes) => {
    const created = await upload(multipart(bytes, name, mime));
    expect(created.status).toBe(200);
    const { resource } = created.body;
    expect(resource).toEqual({
      company_id: company,
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      user_id: 'alice',
      application_id: null,
      created_at: expect.any(Number),
      updated_at: expect.any(Number),
      metadata: { name, mime, thumbnails_status: 'done' },
      thumbnails: [],
      upload_data: { size: bytes.length, chunks: 1, status: 'complete' },
      download_url: expect.stringMatching(
        new RegExp(
          `^/internal/services/files/v1/companies/${company}/files/[0-9a-f-]{36}/download\\?expires=\\d+&signature=[\\w-]{43}$`,
        ),
      ),
    });

    const read = await call<{ resource: Resource }>(filesUrl(company, `/${resource.id}`), {
      headers: bearer(alice),
    });
    expect(read.status).toBe(200);
    expect(read.body.resource).toEqual(resource);
    expect(JSON.stringify(read.body)).not.toContain('encryption_key');

    const keys = await objectKeys(`files/${company}/${resource.id}/`);
    expect(keys).toEqual([
      expect.stringMatching(new RegExp(`^files/${company}/${resource.id}/r[0-9a-z]+/data$`)),
    ]);

    const { object, bytes: downloaded } = await download(resource.id);
    expect(object.status).toBe(200);
    expect(sha256(downloaded)).toBe(sha256(bytes));
    expect(object.headers.get('content-type')).toBe(mime);
    expect(object.headers.get('content-disposition')).toBe(
      `attachment; filename="${name}"; filename*=UTF-8''${name}`,
    );

    const deleted = await call(filesUrl(company, `/${resource.id}`), {
      method: 'DELETE',
      headers: bearer(alice),
    });
    expect(deleted).toMatchObject({ status: 200, body: { status: 'success' } });
    expect(await objectKeys(`files/${company}/${resource.id}/`)).toEqual([]);
    expect(await fileItem(company, resource.id)).toBeUndefined();
    const gone = await call(filesUrl(company, `/${resource.id}`), { headers: bearer(alice) });
    expect(gone).toMatchObject({
      status: 404,
      body: { statusCode: 404, error: 'Not Found', message: 'File not found' },
    });
    expect(object.headers.get('content-length') ?? '').toBe(String(bytes.length));
  });

  test('a raw application/octet-stream body, named by the query', async () => {
    const bytes = binaryBytes(1234, 7);
    // A generic type may hide an image: the thumbnailer sniffs it (it does not) before `done`.
    const created = await upload(bytes, '?filename=data.bin&thumbnail_sync=1', {
      'content-type': 'application/octet-stream',
    });
    expect(created.status).toBe(200);
    expect(created.body.resource.metadata).toEqual({
      name: 'data.bin',
      mime: 'application/octet-stream',
      thumbnails_status: 'done',
    });
    expect(sha256((await download(created.body.resource.id)).bytes)).toBe(sha256(bytes));
  });

  test('a zero-byte file is a file', async () => {
    const created = await upload(multipart(new Uint8Array(0), 'empty.txt', 'text/plain'));
    expect(created.status).toBe(200);
    expect(created.body.resource.upload_data).toEqual({ size: 0, chunks: 1, status: 'complete' });
    expect((await download(created.body.resource.id)).bytes.length).toBe(0);
  });

  test('query names override the part; resumable.js names win over Twake names', async () => {
    const created = await upload(
      multipart(binaryBytes(100), 'blob', 'application/octet-stream'),
      '?filename=twake.txt&resumableFilename=resumable.md&type=text/plain&resumableType=text/markdown',
    );
    expect(created.body.resource.metadata).toMatchObject({
      name: 'resumable.md',
      mime: 'text/markdown',
    });
  });

  test('the MIME type is guessed from the name when the client sends none', async () => {
    const created = await upload(binaryBytes(10), '?filename=notes.PDF', {
      'content-type': 'application/octet-stream',
    });
    expect(created.body.resource.metadata?.mime).toBe('application/pdf');
  });
});

describe('create first, upload later', () => {
  test('an empty create has null metadata and upload_data; declared values are kept', async () => {
    const empty = await upload(undefined);
    expect(empty.status).toBe(200);
    expect(empty.body.resource).toMatchObject({
      metadata: null,
      upload_data: null,
      thumbnails: [],
    });

    const declared = await upload(
      undefined,
      '?filename=later.bin&type=application/x-thing&total_size=5&total_chunks=1',
    );
    expect(declared.body.resource).toMatchObject({
      metadata: { name: 'later.bin', mime: 'application/x-thing' },
      upload_data: { size: 5, chunks: 1 },
    });

    const early = await call(filesUrl(company, `/${declared.body.resource.id}/download`), {
      headers: bearer(alice),
    });
    expect(early).toMatchObject({ status: 409, body: { statusCode: 409, error: 'Conflict' } });

    const bytes = Buffer.from('12345');
    const uploaded = await call<{ resource: Resource }>(
      filesUrl(company, `/${declared.body.resource.id}`),
      { method: 'POST', headers: bearer(alice), body: multipart(bytes, 'ignored.txt') },
    );
    expect(uploaded.status).toBe(200);
    expect(uploaded.body.resource).toMatchObject({
      id: declared.body.resource.id,
      metadata: { name: 'later.bin', mime: 'application/x-thing', thumbnails_status: 'done' },
      upload_data: { size: 5, chunks: 1 },
    });
    expect((await download(declared.body.resource.id)).bytes).toEqual(bytes);
  });
});

describe('download links', () => {
  let fileId: string;
  const bytes = binaryBytes(4096, 3);

  beforeAll(async () => {
    fileId = (await upload(multipart(bytes, 'link.bin'))).body.resource.id;
  });

  test('redirect=false answers {url, expires_at} with a short-lived URL', async () => {
    const before = Date.now();
    const link = await call<{ url: string; expires_at: number }>(
      filesUrl(company, `/${fileId}/download?redirect=false`),
      { headers: bearer(alice) },
    );
    expect(link.status).toBe(200);
    expect(link.body.expires_at).toBeGreaterThanOrEqual(before + 290_000);
    expect(link.body.expires_at).toBeLessThanOrEqual(Date.now() + 300_000);
    expect(new URL(link.body.url).searchParams.get('X-Amz-Expires')).toBe('300');
    const object = await fetch(link.body.url);
    expect(Buffer.from(await object.arrayBuffer())).toEqual(bytes);
  });

  test('the redirect is not cacheable (an overwrite retires the object)', async () => {
    const { redirect } = await download(fileId);
    expect(redirect.headers.get('cache-control')).toBe('no-store');
  });

  test('browsers may pass the token in the query on download only', async () => {
    const viaQuery = await call(filesUrl(company, `/${fileId}/download?token=${alice}`));
    expect(viaQuery.status).toBe(302);
    const metadata = await call(filesUrl(company, `/${fileId}?token=${alice}`));
    expect(metadata.status).toBe(401);
  });
});
