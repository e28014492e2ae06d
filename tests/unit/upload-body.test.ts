import type { HttpEvent } from '../../lib/http/request';
import { readUploadBody } from '../../lib/http/upload-body';
import { DomainError } from '../../lib/domain/errors';

const BOUNDARY = 'XyZ123';
const MiB = 1024 * 1024;

function part(headers: string, content: Buffer | string): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\n${headers}\r\n\r\n`),
    Buffer.from(content),
    Buffer.from('\r\n'),
  ]);
}

function multipartEvent(...parts: Buffer[]): HttpEvent {
  const body = Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    body: body.toString('base64'),
    isBase64Encoded: true,
  } as unknown as HttpEvent;
}

async function failure(request: HttpEvent): Promise<DomainError> {
  const error = await readUploadBody(request).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('readUploadBody', () => {
  test('the first file part of a multipart body, binary-safe, with its name and type', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const data = await readUploadBody(
      multipartEvent(
        part('Content-Disposition: form-data; name="note"', 'a field first'),
        part(
          'Content-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: image/png',
          bytes,
        ),
        part('Content-Disposition: form-data; name="file2"; filename="b.bin"', 'second file'),
      ),
    );
    expect(data).toEqual({ bytes, filename: 'a.bin', mime: 'image/png' });
  });

  test('UTF-8 file names as browsers send them', async () => {
    const data = await readUploadBody(
      multipartEvent(
        part('Content-Disposition: form-data; name="file"; filename="été 🎉.txt"', 'x'),
      ),
    );
    expect(data?.filename).toBe('été 🎉.txt');
  });

  test('a multipart body without a file part is a 400', async () => {
    const error = await failure(
      multipartEvent(part('Content-Disposition: form-data; name="a"', 'b')),
    );
    expect(error).toMatchObject({
      kind: 'BadRequest',
      message: 'The multipart body has no file part',
    });
  });

  test('a multipart content type without boundary is a 400', async () => {
    const error = await failure({
      headers: { 'content-type': 'multipart/form-data' },
      body: 'abc',
    } as unknown as HttpEvent);
    expect(error.kind).toBe('BadRequest');
  });

  test('a truncated multipart body is a 400', async () => {
    const request = multipartEvent(
      part('Content-Disposition: form-data; name="file"; filename="a"', 'abc'),
    );
    const body = Buffer.from(request.body ?? '', 'base64');
    const truncated = { ...request, body: body.subarray(0, body.length - 20).toString('base64') };
    expect((await failure(truncated as HttpEvent)).kind).toBe('BadRequest');
  });

  test('file data over 4 MiB is a 413 naming the limit', async () => {
    const error = await failure(
      multipartEvent(
        part(
          'Content-Disposition: form-data; name="file"; filename="big"',
          Buffer.alloc(4 * MiB + 1),
        ),
      ),
    );
    expect(error.kind).toBe('TooLarge');
    expect(error.message).toContain('4194304 bytes (4 MiB)');
    expect(error.message).toContain('chunks');
  });

  test('exactly 4 MiB is accepted', async () => {
    const data = await readUploadBody(
      multipartEvent(
        part(
          'Content-Disposition: form-data; name="file"; filename="max"',
          Buffer.alloc(4 * MiB, 7),
        ),
      ),
    );
    expect(data?.bytes.byteLength).toBe(4 * MiB);
  });

  test('a raw octet-stream body over the limit is refused before it is parsed', async () => {
    const error = await failure({
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(5 * MiB).toString('base64'),
      isBase64Encoded: true,
    } as unknown as HttpEvent);
    expect(error.kind).toBe('TooLarge');
  });

  test('a raw octet-stream body is the data', async () => {
    const bytes = Buffer.from([0, 255, 10, 13]);
    await expect(
      readUploadBody({
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes.toString('base64'),
        isBase64Encoded: true,
      } as unknown as HttpEvent),
    ).resolves.toEqual({ bytes });
  });

  test.each([
    ['no body at all', {}],
    ['a null body (serverless offline)', { body: null }],
    ['an empty body', { body: '', headers: { 'content-type': 'text/plain' } }],
    ['a JSON body', { body: '{}', headers: { 'content-type': 'application/json' } }],
    // Twake's create: fetch(url, { body: '{}' }) sends text/plain.
    ["Twake's create", { body: '{}', headers: { 'content-type': 'text/plain;charset=UTF-8' } }],
    ['blank text', { body: ' \n', headers: { 'content-type': 'text/plain' } }],
    [
      '{} as a form',
      { body: '{}', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    ],
    ['JSON by suffix', { body: '{}', headers: { 'content-type': 'application/ld+json' } }],
    ['{} with no content type', { body: ' { } ' }],
  ])('%s carries no data', async (_, request) => {
    await expect(
      readUploadBody({ headers: {}, ...request } as unknown as HttpEvent),
    ).resolves.toBeUndefined();
  });

  test.each([
    // Bytes sent the wrong way are refused, never dropped: curl --data-binary labels them a form.
    ['a file as a form', 'application/x-www-form-urlencoded', 'GIF89a\u0001\u0000'],
    ['a text file as text', 'text/plain', 'hello, a real text file'],
    ['a Blob without a type', undefined, '\u0000\u0001binary'],
    ['a JSON file', 'application/json', '{"a":1}'],
    ['a JSON file as a form', 'application/x-www-form-urlencoded', '[1,2]'],
  ])('%s is a 415, not an empty create', async (_, type, body) => {
    const error = await failure({
      headers: type ? { 'content-type': type } : {},
      body,
    } as unknown as HttpEvent);
    expect(error.kind).toBe('UnsupportedMediaType');
  });

  test('other content types with a body are a 415', async () => {
    const error = await failure({
      headers: { 'content-type': 'image/png' },
      body: 'abc',
    } as unknown as HttpEvent);
    expect(error.kind).toBe('UnsupportedMediaType');
    expect(error.message).toContain('multipart/form-data');
  });

  test('a body cut inside its file part is a 400, and nothing is left to throw later', async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    try {
      const whole = Buffer.concat([
        Buffer.from(`--${BOUNDARY}\r\n`),
        Buffer.from('Content-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n'),
        Buffer.alloc(1000, 1),
      ]); // no closing boundary: the part never ends
      const error = await failure({
        headers: { 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        body: whole.toString('base64'),
        isBase64Encoded: true,
      } as unknown as HttpEvent);
      expect(error.kind).toBe('BadRequest');
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
    }
  });
});
