import { binaryBytes, call, filesUrl, multipart, tinyPdf } from '../helpers/api';
import { image, videoClip } from '../helpers/media';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

/**
 * Hostile input, bounded in count: random paths, query strings, headers and bodies on every
 * route, and random or truncated bytes labelled as images, PDFs and videos for the
 * thumbnailer. A client's mistake is a 4xx in the error shape, never a 500, and the stack
 * stays up. The generator is seeded, so a failure replays.
 */
const company = newCompanyId();
let token: string;
let fileId: string;
let state = 20261127;
const random = () => {
  state = (state * 1103515245 + 12345) & 0x7fffffff;
  return state / 0x7fffffff;
};
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

beforeAll(async () => {
  token = await tokenFor({ company, user: 'fuzz' });
  const created = await call<{ resource: { id: string } }>(filesUrl(company), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(Buffer.from('seed'), 'seed.txt'),
  });
  fileId = created.body.resource.id;
});

const ids = () => [
  fileId,
  crypto.randomUUID(),
  '..',
  '%2E%2E',
  '%2F',
  'a'.repeat(3000),
  '%00',
  'é',
  '0',
  '-1',
  fileId.toUpperCase(),
];
const paramNames = [
  'filename',
  'type',
  'total_size',
  'total_chunks',
  'chunk_number',
  'thumbnail_sync',
  'redirect',
  'token',
  'resumableChunkNumber',
  'resumableTotalChunks',
  'resumableTotalSize',
  'resumableFilename',
  'resumableType',
  'resumableIdentifier',
  'x',
];
const paramValues = [
  '',
  '0',
  '1',
  '-1',
  '1.5',
  '1e9',
  '99999999999999999999',
  'abc',
  'NaN',
  '%00',
  '%E2%80%AE',
  'true',
  'image/png',
  'text/plain;%0d%0aX-Evil:1',
  '..%2F..%2Fetc',
  'a'.repeat(2000),
  '10001',
  '5368709121',
];
const contentTypes = [
  undefined,
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'multipart/form-data; boundary=zzz',
  'application/octet-stream',
  'text/plain',
  'application/json',
  'image/png',
  'multipart/mixed; boundary=a',
];

function randomQuery(): string {
  const count = Math.floor(random() * 5);
  const parts = Array.from({ length: count }, () => `${pick(paramNames)}=${pick(paramValues)}`);
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

function randomBody(): Buffer | undefined {
  const kind = pick(['none', 'bytes', 'multipart', 'truncated', 'empty']);
  if (kind === 'none') return undefined;
  if (kind === 'empty') return Buffer.alloc(0);
  const bytes = binaryBytes(Math.floor(random() * 20_000), Math.floor(random() * 1000));
  if (kind === 'bytes') return bytes;
  const form = Buffer.concat([
    Buffer.from(
      '--zzz\r\nContent-Disposition: form-data; name="file"; filename="f\u00e9.bin"\r\n\r\n',
    ),
    bytes,
    Buffer.from('\r\n--zzz--\r\n'),
  ]);
  return kind === 'truncated' ? form.subarray(0, Math.floor(form.length / 2)) : form;
}

test('200 random requests across every route: no 5xx, always the error shape', async () => {
  const routes = [
    { method: 'POST', path: () => '' },
    { method: 'POST', path: () => `/${pick(ids())}` },
    { method: 'GET', path: () => `/${pick(ids())}` },
    { method: 'GET', path: () => `/${pick(ids())}/download` },
    {
      method: 'GET',
      path: () => `/${pick(ids())}/thumbnails/${pick(['0', '1', 'x', '-1', '99999999'])}`,
    },
    { method: 'DELETE', path: () => `/${pick([crypto.randomUUID(), '..', 'zzz', '%2F'])}` },
  ];
  const failures: string[] = [];
  for (let i = 0; i < 200; i++) {
    const route = pick(routes);
    const url = filesUrl(company, `${route.path()}${randomQuery()}`);
    const contentType = pick(contentTypes);
    const auth = pick([
      `Bearer ${token}`,
      `Bearer ${token}`,
      `Bearer ${token}`,
      'Bearer x.y.z',
      'Basic abc',
      '',
      `bearer  ${token}`,
    ]);
    const body = route.method === 'POST' ? randomBody() : undefined;
    const response = await call(url, {
      method: route.method,
      headers: {
        ...(auth && { authorization: auth }),
        ...(contentType && { 'content-type': contentType }),
      },
      body,
    });
    const shaped =
      response.status < 400 ||
      (typeof response.body === 'object' &&
        (response.body as { statusCode?: number }).statusCode === response.status);
    if (response.status >= 500 || !shaped) {
      failures.push(
        `${route.method} ${url.slice(0, 200)} [${contentType}] -> ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`,
      );
    }
  }
  expect(failures).toEqual([]);
  const alive = await call(filesUrl(company, `/${fileId}`), { headers: bearer(token) });
  expect(alive.status).toBe(200);
});

test('random and truncated bytes labelled as images, PDFs and videos end done or error', async () => {
  const pdf = tinyPdf('fuzz', 2);
  const clip = await videoClip(320, 240);
  const png = await image.png(300, 200);
  const inputs: [string, string, Buffer][] = [];
  for (let i = 0; i < 4; i++) {
    inputs.push(['x.png', 'image/png', png.subarray(0, Math.floor(random() * png.length))]);
    inputs.push(['x.pdf', 'application/pdf', pdf.subarray(0, Math.floor(random() * pdf.length))]);
    inputs.push(['x.mp4', 'video/mp4', clip.subarray(0, Math.floor(random() * clip.length))]);
    inputs.push([
      pick(['x.jpg', 'x.webm', 'x.tiff', 'x.svg']),
      pick(['image/jpeg', 'video/webm', 'image/tiff', 'image/svg+xml']),
      binaryBytes(Math.floor(random() * 5000) + 1, i),
    ]);
  }
  for (const [name, mime, bytes] of inputs) {
    const response = await call<{ resource: { metadata: { thumbnails_status: string } } }>(
      filesUrl(company, '?thumbnail_sync=1'),
      { method: 'POST', headers: bearer(token), body: multipart(bytes, name, mime) },
    );
    expect(response.status).toBe(200);
    expect(['done', 'error']).toContain(response.body.resource.metadata.thumbnails_status);
  }
});
