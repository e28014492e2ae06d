import { request as httpRequest } from 'node:http';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { API, binaryBytes, call, filesUrl, multipart, sha256 } from '../helpers/api';
import { image } from '../helpers/media';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

/** Requests as Twake's web client sends them (shared/design/TWAKE-CLIENT.md), and hostile ones. */

type Resource = {
  id: string;
  company_id: string;
  metadata: { name: string; mime: string; thumbnails_status?: string } | null;
  thumbnails: { index: number; url: string; width: number }[];
  upload_data: { size: number; status?: string } | null;
  download_url: string | null;
};

const company = newCompanyId();
const origin = () => new URL(API()).origin;
let token: string;
let app: string;

beforeAll(async () => {
  [token, app] = await Promise.all([
    tokenFor({ company, user: 'twake-user' }),
    tokenFor({ company, application: 'twake-app' }),
  ]);
});

/** Twake's create: name and type unencoded in the query, body '{}' (fetch: text/plain). */
async function twakeCreate(name: string, type: string, size: number) {
  return call<{ resource: Resource }>(
    filesUrl(company, `?filename=${name}&type=${type}&total_size=${size}`),
    { method: 'POST', headers: { accept: 'application/json', ...bearer(token) }, body: '{}' },
  );
}

async function uploadInto(fileId: string, bytes: Buffer, name: string, query = '') {
  return call<{ resource: Resource }>(filesUrl(company, `/${fileId}${query}`), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(bytes, name),
  });
}

describe("Twake's create", () => {
  test('a text/plain body of {} creates an empty file', async () => {
    const created = await twakeCreate('notes.txt', 'text/plain', 5);
    expect(created.status).toBe(200);
    expect(created.body.resource).toMatchObject({
      company_id: company,
      metadata: { name: 'notes.txt', mime: 'text/plain' },
      upload_data: { size: 5 },
      download_url: null,
    });
    const uploaded = await uploadInto(created.body.resource.id, Buffer.from('hello'), 'notes.txt');
    expect(uploaded.body.resource.upload_data?.status).toBe('complete');
  });

  test.each([
    ['image/svg+xml', 'drawing.svg'],
    ['application/epub+zip', 'book.epub'],
  ])('a + in the type (%s) survives the query, unencoded as Twake sends it', async (type, name) => {
    const created = await twakeCreate(name, type, 3);
    expect(created.status).toBe(200);
    expect(created.body.resource.metadata?.mime).toBe(type);
  });

  test('a type naming no MIME type falls back to the extension', async () => {
    const created = await twakeCreate('photo.png', 'not-a-type', 3);
    expect(created.status).toBe(200);
    const uploaded = await uploadInto(created.body.resource.id, Buffer.from('abc'), 'photo.png');
    expect(uploaded.body.resource.metadata?.mime).toBe('image/png');
  });

  test.each([
    ['a control character', 'text/plain;%20a=%01'],
    ['a non-Latin-1 character', 'text/plain;%20a=%E2%82%AC'],
  ])('a type with %s is a 400, and never reaches S3', async (_, type) => {
    const created = await twakeCreate('a.txt', type, 3);
    expect(created.status).toBe(400);
    expect(created.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });

  test('a multipart part with an unusable type is stored under the extension type', async () => {
    const form = new FormData();
    form.append('file', new Blob(['abc'], { type: 'image/svg\u0001' }), 'pic.gif');
    const response = await call<{ resource: Resource }>(filesUrl(company), {
      method: 'POST',
      headers: bearer(token),
      body: form,
    });
    expect(response.status).toBe(200);
    expect(response.body.resource.metadata?.mime).toBe('image/gif');
  });

  test('a declared size above MAX_FILE_SIZE_BYTES is refused up front (413)', async () => {
    const created = await twakeCreate('huge.bin', 'application/octet-stream', 6 * 1024 ** 4);
    expect(created.status).toBe(413);
    expect(created.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  test('a binary body type the Lambda path cannot carry is a 415 naming the fix', async () => {
    const response = await call<{ message: string }>(filesUrl(company), {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'image/png' },
      body: await image.png(4, 4),
    });
    expect(response.status).toBe(415);
    expect(response.body.message).toContain('multipart/form-data');
  });
});

describe('chunks sent to the collection route', () => {
  test('chunk 1 creates the file; chunk 2 there is a 400 naming the fix', async () => {
    const query = (n: number) =>
      `?resumableChunkNumber=${n}&resumableTotalChunks=2&resumableFilename=a.bin`;
    const first = await call<{ resource: Resource }>(filesUrl(company, query(1)), {
      method: 'POST',
      headers: bearer(token),
      body: multipart(binaryBytes(10), 'a.bin'),
    });
    expect(first.status).toBe(200);
    expect(first.body.resource.upload_data?.status).toBe('uploading');
    const second = await call<{ message: string }>(filesUrl(company, query(2)), {
      method: 'POST',
      headers: bearer(token),
      body: multipart(binaryBytes(10), 'a.bin'),
    });
    // 400 is one of resumable.js's permanentErrors: it stops instead of retrying.
    expect(second.status).toBe(400);
    expect(second.body.message).toContain('/files/{file_id}');
  });
});

test('a whole file sent into an upload in progress is a 409, not taken for its chunk 1', async () => {
  const created = await call<{ resource: Resource }>(
    filesUrl(company, '?filename=three.bin&total_chunks=3'),
    { method: 'POST', headers: bearer(token) },
  );
  const id = created.body.resource.id;
  const first = await call(filesUrl(company, `/${id}?chunk_number=1`), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(binaryBytes(10, 1), 'three.bin'),
  });
  expect(first.status).toBe(200);
  const whole = await call<{ message: string }>(filesUrl(company, `/${id}`), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(binaryBytes(30, 2), 'three.bin'),
  });
  expect(whole.status).toBe(409);
  expect(whole.body.message).toContain('chunk_number');
});

describe('names', () => {
  /** The download redirect's Location: what a client must read to follow it. */
  async function location(fileId: string) {
    const response = await call(filesUrl(company, `/${fileId}/download`), {
      headers: bearer(token),
    });
    expect(response.status).toBe(302);
    return response.headers.get('location') ?? '';
  }

  test.each([
    ['3-byte characters', '报'.repeat(340) + '.txt'],
    ['emoji', '🎉'.repeat(255) + '.txt'],
    ['characters encoded twice', '&'.repeat(1020) + '.txt'],
  ])('a 1,024-byte name of %s downloads through a short redirect', async (_, name) => {
    const query = `?filename=${encodeURIComponent(name)}`;
    const created = await call<{ resource: Resource }>(filesUrl(company, query), {
      method: 'POST',
      headers: bearer(token),
      body: multipart(Buffer.from('x'), 'x.txt'),
    });
    expect(created.status).toBe(200);
    expect(created.body.resource.metadata?.name).toBe(name); // kept whole in the metadata
    const url = await location(created.body.resource.id);
    expect(url.length).toBeLessThan(8 * 1024);
    const object = await fetch(url);
    const disposition = object.headers.get('content-disposition') ?? '';
    const saved = decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(disposition)?.[1] ?? '');
    expect(Buffer.byteLength(saved)).toBeLessThanOrEqual(255);
    expect(saved.endsWith('.txt')).toBe(true);
  });

  test.each([
    ['the query', (name: string) => [`?filename=${encodeURIComponent(name)}`, 'x.txt']],
    [
      "resumable.js's field",
      (name: string) => [`?resumableFilename=${encodeURIComponent(name)}`, 'x.txt'],
    ],
    ['a multipart part', (name: string) => ['', name]],
  ])('a name over 1,024 bytes in %s is a 400', async (_, place) => {
    const [query, partName] = place('€'.repeat(342)) as [string, string];
    const response = await call(filesUrl(company, query), {
      method: 'POST',
      headers: bearer(token),
      body: multipart(Buffer.from('x'), partName),
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });
});

describe('a multipart body cut inside its file part', () => {
  /** Sent over a raw socket: fetch would not send a body it cannot finish. */
  function postCut(url: string): Promise<number> {
    const body = Buffer.concat([
      Buffer.from('--cut\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'),
      binaryBytes(5000),
    ]);
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        url,
        {
          method: 'POST',
          headers: {
            ...bearer(token),
            'content-type': 'multipart/form-data; boundary=cut',
            'content-length': body.length,
          },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  test('is a 400 on both upload routes, and the service keeps serving', async () => {
    const created = await twakeCreate('cut.bin', 'application/octet-stream', 10);
    expect(await postCut(filesUrl(company))).toBe(400);
    expect(await postCut(filesUrl(company, `/${created.body.resource.id}`))).toBe(400);
    // The process that parsed them still answers, now and a moment later.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const health = await call(`${API()}/health`);
    expect(health.status).toBe(200);
    const again = await call(filesUrl(company, `/${created.body.resource.id}`), {
      headers: bearer(token),
    });
    expect(again.status).toBe(200);
  });
});

describe('signed read links', () => {
  let resource: Resource;
  let png: Buffer;

  beforeAll(async () => {
    png = await image.png(300, 200);
    const response = await call<{ resource: Resource }>(filesUrl(company, '?thumbnail_sync=1'), {
      method: 'POST',
      headers: bearer(app),
      body: multipart(png, 'linked.png', 'image/png'),
    });
    expect(response.status).toBe(200);
    resource = response.body.resource;
    expect(resource.thumbnails).toHaveLength(1);
  });

  const get = (link: string) => call(`${origin()}${link}`);

  test('a thumbnail url and the download_url work with no token', async () => {
    const thumbnail = await get(resource.thumbnails[0]!.url);
    expect(thumbnail.status).toBe(302);
    const object = await fetch(thumbnail.headers.get('location') ?? '');
    expect(object.headers.get('content-type')).toBe('image/webp');

    const download = await get(resource.download_url ?? '');
    expect(download.status).toBe(302);
    const bytes = Buffer.from(
      await (await fetch(download.headers.get('location') ?? '')).arrayBuffer(),
    );
    expect(sha256(bytes)).toBe(sha256(png));
  });

  test('a token that is sent is checked, and wins over a link that no longer holds', async () => {
    const stale = `${resource.download_url}x`;
    expect((await get(stale)).status).toBe(403);
    const withToken = await call(`${origin()}${stale}`, { headers: bearer(token) });
    expect(withToken.status).toBe(302);
    const badToken = await call(`${origin()}${resource.download_url}`, {
      headers: { authorization: 'Bearer nope' },
    });
    expect(badToken.status).toBe(401);
  });

  test('the built path with no token is still a 401 by default', async () => {
    const built = `/internal/services/files/v1/companies/${company}/files/${resource.id}`;
    expect((await get(`${built}/thumbnails/0`)).status).toBe(401);
    expect((await get(`${built}/download`)).status).toBe(401);
  });

  test('a link cannot be turned into a link to anything else', async () => {
    const url = new URL(resource.thumbnails[0]!.url, origin());
    const expires = url.searchParams.get('expires') ?? '';
    const signature = url.searchParams.get('signature') ?? '';
    const file = `/internal/services/files/v1/companies/${company}/files/${resource.id}`;
    const other = await twakeCreate('other.txt', 'text/plain', 1);
    const otherFile = `/internal/services/files/v1/companies/${company}/files/${other.body.resource.id}`;
    const tampered = [
      `${file}/download?expires=${expires}&signature=${signature}`, // thumbnail link as download
      `${file}/thumbnails/1?expires=${expires}&signature=${signature}`, // another index
      `${file}/thumbnails/0?expires=${Number(expires) + 3600}&signature=${signature}`, // longer life
      `${file}/thumbnails/0?expires=${expires}&signature=${signature.slice(0, -2)}AA`,
      `${file}/thumbnails/0?expires=${expires}`, // no signature
      `${otherFile}/download?expires=${expires}&signature=${signature}`, // another file
    ];
    for (const link of tampered) {
      const response = await get(link);
      expect([403, 404]).toContain(response.status);
      expect(response.status).not.toBe(302);
    }
  });

  test('an overwrite retires the links of the old content; a delete, every link', async () => {
    const before = resource;
    const overwritten = await call<{ resource: Resource }>(
      filesUrl(company, `/${before.id}?thumbnail_sync=1`),
      {
        method: 'POST',
        headers: bearer(app),
        body: multipart(await image.png(200, 300), 'v2.png'),
      },
    );
    expect(overwritten.status).toBe(200);
    expect((await get(before.download_url ?? '')).status).toBe(403);
    expect((await get(before.thumbnails[0]!.url)).status).toBe(403);
    const after = overwritten.body.resource;
    expect((await get(after.download_url ?? '')).status).toBe(302);

    const deleted = await call(filesUrl(company, `/${before.id}`), {
      method: 'DELETE',
      headers: bearer(app),
    });
    expect(deleted.status).toBe(200);
    expect((await get(after.download_url ?? '')).status).toBe(404);
    expect((await get(after.thumbnails[0]!.url)).status).toBe(404);
  });
});

describe('the local S3 serves the deployed bucket CORS rule', () => {
  test('a page on another origin can read a download, and its headers', async () => {
    const created = await call<{ resource: Resource }>(filesUrl(company), {
      method: 'POST',
      headers: bearer(token),
      body: multipart(Buffer.from('cors'), 'cors.txt'),
    });
    const link = await call<{ url: string }>(
      filesUrl(company, `/${created.body.resource.id}/download?redirect=false`),
      { headers: bearer(token) },
    );
    // A cross-origin redirect makes the browser's Origin "null".
    for (const pageOrigin of ['http://127.0.0.1:9', 'null']) {
      const object = await fetch(link.body.url, { headers: { origin: pageOrigin } });
      expect(object.status).toBe(200);
      expect(object.headers.get('access-control-allow-origin')).toBe('*');
      expect(object.headers.get('access-control-expose-headers')).toContain('Content-Disposition');
    }
    const preflight = await fetch(link.body.url, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:9', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('GET');
  });
});

test("the local stack's stack.json, which holds the token secret, is its owner's only", async () => {
  const file = path.join(process.env['LOCAL_DATA_DIR'] ?? '', 'stack.json');
  expect((await stat(file)).mode & 0o777).toBe(0o600);
});
