import { binaryBytes, call, filesUrl, multipart } from '../helpers/api';
import { objectKeys } from '../helpers/aws';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

const company = newCompanyId();
const MiB = 1024 * 1024;
let token: string;
let fileId: string;

beforeAll(async () => {
  token = await tokenFor({ company, user: 'dana' });
  const created = await call<{ resource: { id: string } }>(filesUrl(company), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(binaryBytes(100), 'ok.bin'),
  });
  fileId = created.body.resource.id;
});

const errorShape = (statusCode: number) => ({
  statusCode,
  error: expect.any(String),
  message: expect.any(String),
});

describe('unknown or malformed ids are 404, never 500', () => {
  test.each([
    ['an unknown uuid', `/${crypto.randomUUID()}`],
    ['not a uuid', '/12345'],
    ['dot-dot', '/..%2F..%2Fetc'],
    ['an encoded slash', `/${fileId}%2Fdata`],
    ['a very long id', `/${'a'.repeat(2000)}`],
  ])('%s', async (_, path) => {
    for (const suffix of ['', '/download']) {
      const response = await call(filesUrl(company, path + suffix), { headers: bearer(token) });
      expect(response.status).toBe(404);
      expect(response.body).toEqual(errorShape(404));
    }
  });

  test('a malformed company id', async () => {
    const response = await call(`${process.env['TEST_API_URL']}/companies/..%2Fx/files/${fileId}`, {
      headers: bearer(token),
    });
    expect(response.status).toBe(404);
  });
});

describe('malformed query values are 400 naming the parameter', () => {
  test.each([
    ['total_size=abc', 'total_size'],
    ['total_size=-1', 'total_size'],
    ['total_size=1.5', 'total_size'],
    ['total_chunks=0', 'total_chunks'],
    ['resumableTotalChunks=x', 'resumableTotalChunks'],
    ['chunk_number=2', 'chunk_number'],
    ['chunk_number=0&total_chunks=5', 'chunk_number'],
    ['chunk_number=6&total_chunks=5', 'chunk_number'],
    ['resumableChunkNumber=abc&resumableTotalChunks=5', 'resumableChunkNumber'],
    ['type=text/plain;%20a=%01', 'type'],
  ])('%s', async (query, param) => {
    const response = await call<{ message: string }>(filesUrl(company, `?${query}`), {
      method: 'POST',
      headers: bearer(token),
      body: multipart(Buffer.from('x'), 'x.txt'),
    });
    expect(response.status).toBe(400);
    expect(response.body).toEqual(errorShape(400));
    expect(response.body.message).toContain(param);
  });
});

describe('request bodies', () => {
  test.each([
    ['multipart', () => multipart(Buffer.alloc(4 * MiB + 1), 'big.bin'), {}],
    [
      'octet-stream',
      () => Buffer.alloc(4 * MiB + 1),
      { 'content-type': 'application/octet-stream' } as Record<string, string>,
    ],
  ])('over 4 MiB of %s data: 413 naming the limit, nothing stored', async (_, body, headers) => {
    const before = await objectKeys(`files/${company}/`);
    const response = await call<{ message: string }>(filesUrl(company), {
      method: 'POST',
      headers: { ...bearer(token), ...headers },
      body: body(),
    });
    expect(response.status).toBe(413);
    expect(response.body).toEqual(errorShape(413));
    expect(response.body.message).toMatch(/4 MiB/);
    expect(response.body.message).toMatch(/chunks/);
    expect(await objectKeys(`files/${company}/`)).toEqual(before);
  });

  test('exactly 4 MiB goes through in one request', async () => {
    const response = await call<{ resource: { upload_data: unknown } }>(filesUrl(company), {
      method: 'POST',
      headers: bearer(token),
      body: multipart(binaryBytes(4 * MiB), 'max.bin'),
    });
    expect(response.status).toBe(200);
    expect(response.body.resource.upload_data).toEqual({
      size: 4 * MiB,
      chunks: 1,
      status: 'complete',
    });
  });

  test('a multipart body with no file part: 400', async () => {
    const form = new FormData();
    form.append('note', 'no file here');
    const response = await call(filesUrl(company), {
      method: 'POST',
      headers: bearer(token),
      body: form,
    });
    expect(response).toMatchObject({ status: 400, body: errorShape(400) });
  });

  test('a declared total_size that does not match the data: 400, nothing stored', async () => {
    const before = await objectKeys(`files/${company}/`);
    const response = await call(filesUrl(company, '?total_size=999'), {
      method: 'POST',
      headers: bearer(token),
      body: multipart(Buffer.from('five!'), 'x.txt'),
    });
    expect(response).toMatchObject({ status: 400, body: errorShape(400) });
    expect(await objectKeys(`files/${company}/`)).toEqual(before);
  });
});

describe('hostile file names: stored as given, served with a safe Content-Disposition', () => {
  test.each([
    'quote "me".txt',
    'back\\slash.txt',
    'line\r\nSet-Cookie: stolen=1.txt',
    '../../etc/passwd',
    'dir/sub/file.txt',
    'emoji 😀🎉.png',
    'accents éàüß Ω.pdf',
    '中文 文件.docx',
  ])('%p', async (name) => {
    const created = await call<{ resource: { id: string; metadata: { name: string } } }>(
      filesUrl(company, `?filename=${encodeURIComponent(name)}`),
      {
        method: 'POST',
        headers: { ...bearer(token), 'content-type': 'application/octet-stream' },
        body: Buffer.from('content'),
      },
    );
    expect(created.status).toBe(200);
    expect(created.body.resource.metadata.name).toBe(name);

    const read = await call<{ resource: { metadata: { name: string } } }>(
      filesUrl(company, `/${created.body.resource.id}`),
      { headers: bearer(token) },
    );
    expect(read.body.resource.metadata.name).toBe(name);

    const link = await call<{ url: string }>(
      filesUrl(company, `/${created.body.resource.id}/download?redirect=false`),
      { headers: bearer(token) },
    );
    const object = await fetch(link.body.url);
    expect(object.status).toBe(200);
    expect(object.headers.get('set-cookie')).toBeNull();
    const disposition = object.headers.get('content-disposition') ?? '';
    expect(disposition).toMatch(
      /^attachment; filename="[\x20-\x21\x23-\x5b\x5d-\x7e]*"; filename\*=UTF-8''\S+$/,
    );
    expect(decodeURIComponent(disposition.split("UTF-8''")[1] ?? '')).toBe(name);
  });
});
