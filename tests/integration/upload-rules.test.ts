import { CreateMultipartUploadCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { handler as uploadToFile } from '../../functions/http/upload-to-file';
import { binaryBytes, sha256 } from '../helpers/api';
import { fileItem, objectKeys, putFileItem } from '../helpers/aws';
import { MiB } from '../helpers/chunks';
import { type HandlerResult, httpEvent, invoke } from '../helpers/events';
import { holdFirst } from '../helpers/faults';
import { createEmptyFile, storedData, uploadBytes } from '../helpers/handlers';
import { newCompanyId, tokenFor } from '../helpers/principals';

type Result = HandlerResult;
type Resource = {
  id: string;
  upload_data: { status: string; size: number };
  metadata: { name: string; mime: string };
};
const company = newCompanyId();
let user: string;
let app: string;

beforeAll(async () => {
  [user, app] = await Promise.all([
    tokenFor({ company, user: 'rita' }),
    tokenFor({ company, application: 'rules-app' }),
  ]);
});

afterEach(() => jest.restoreAllMocks());

const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
const resource = (result: Result) => (JSON.parse(result.body) as { resource: Resource }).resource;

const newFile = (query: Record<string, string> = {}) => createEmptyFile(company, user, query);
const chunk = (fileId: string, token: string, query: Record<string, string>, bytes: Buffer) =>
  uploadBytes(company, fileId, token, query, bytes);
const stored = async (fileId: string) =>
  sha256((await storedData(company, fileId)) ?? Buffer.alloc(0));

test('two different versions of one chunk at once: the file is one of them, whole', async () => {
  const fileId = await newFile();
  const base = binaryBytes(12 * MiB, 1);
  const other = binaryBytes(4 * MiB, 2);
  const q = (n: number) => ({ chunk_number: String(n), total_chunks: '3' });
  const part = (n: number) => base.subarray((n - 1) * 4 * MiB, n * 4 * MiB);
  await chunk(fileId, user, q(1), part(1));
  const [a, b] = await Promise.all([
    chunk(fileId, user, q(2), part(2)),
    chunk(fileId, user, q(2), other),
  ]);
  expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
  expect((await chunk(fileId, user, q(3), part(3))).statusCode).toBe(200);
  const withOther = Buffer.concat([part(1), other, part(3)]);
  expect([sha256(base), sha256(withOther)]).toContain(await stored(fileId));
  expect(await objectKeys(`uploads/${company}/${fileId}/`)).toEqual([]);
});

test('a whole-file overwrite while a chunked upload is in progress: 409, nothing merged', async () => {
  const fileId = await newFile();
  await chunk(fileId, user, { chunk_number: '1', total_chunks: '1' }, binaryBytes(100, 3));
  await chunk(fileId, app, { chunk_number: '1', total_chunks: '3' }, binaryBytes(4 * MiB, 4));
  const whole = await chunk(fileId, app, {}, binaryBytes(500, 5));
  expect(whole.statusCode).toBe(409);
  expect(JSON.parse(whole.body).message).toContain('total_chunks=1');
  expect(await stored(fileId)).toBe(sha256(binaryBytes(100, 3)));
});

test('values declared at create do not apply to a later overwrite', async () => {
  const fileId = await newFile({
    filename: 'declared.docx',
    type: 'application/msword',
    total_size: '100',
    total_chunks: '1',
  });
  await chunk(fileId, user, {}, binaryBytes(100, 6));
  const overwrite = await invoke(
    uploadToFile,
    httpEvent('upload-to-file', {
      token: app,
      companyId: company,
      fileId,
      query: {},
      body: {
        bytes: Buffer.from(
          `--B\r\nContent-Disposition: form-data; name="file"; filename="new.png"\r\nContent-Type: image/png\r\n\r\n${'x'.repeat(250)}\r\n--B--\r\n`,
        ),
        contentType: 'multipart/form-data; boundary=B',
      },
    }),
  );
  expect(overwrite.statusCode).toBe(200);
  expect(resource(overwrite)).toMatchObject({
    metadata: { name: 'new.png', mime: 'image/png' },
    upload_data: { size: 250, status: 'complete' },
  });
});

test('a total_size the chunks do not add up to: 409, the upload is dropped, a new one works', async () => {
  const fileId = await newFile();
  const q = (n: number, size: number) => ({
    chunk_number: String(n),
    total_chunks: '2',
    total_size: String(size),
  });
  await chunk(fileId, user, q(1, 5 * MiB), binaryBytes(4 * MiB, 7));
  const last = await chunk(fileId, user, q(2, 5 * MiB), binaryBytes(2 * MiB, 8));
  expect(last.statusCode).toBe(409);
  expect(JSON.parse(last.body).message).toMatch(
    /total_size=5242880 disagrees with the 6291456 bytes/,
  );
  expect((await fileItem(company, fileId))?.['upload']).toBeUndefined();
  expect(await objectKeys(`uploads/${company}/${fileId}/`)).toEqual([]);

  const bytes = binaryBytes(6 * MiB, 9);
  await chunk(fileId, user, q(1, 6 * MiB), bytes.subarray(0, 4 * MiB));
  const done = await chunk(fileId, user, q(2, 6 * MiB), bytes.subarray(4 * MiB));
  expect(resource(done).upload_data.status).toBe('complete');
  expect(await stored(fileId)).toBe(sha256(bytes));
});

test('chunks far from the size the upload expected are regrouped into bounded parts', async () => {
  // The first chunk is tiny and no total_size is given: the upload expects 1 KiB chunks and
  // would put all 20 MiB in one part; parts are capped, so completion regroups them.
  const fileId = await newFile();
  const first = binaryBytes(1024, 10);
  const rest = binaryBytes(20 * MiB, 11);
  const q = (n: number) => ({ chunk_number: String(n), total_chunks: '6' });
  await chunk(fileId, user, q(1), first);
  for (let n = 2; n <= 6; n++) {
    const result = await chunk(
      fileId,
      user,
      q(n),
      rest.subarray((n - 2) * 4 * MiB, (n - 1) * 4 * MiB),
    );
    expect(result.statusCode).toBe(200);
  }
  expect(await stored(fileId)).toBe(sha256(Buffer.concat([first, rest])));
});

test('an upload older than UPLOAD_MAX_AGE_SECONDS is replaced by a new one', async () => {
  const { services } = await import('../../lib/services/full');
  const limits = services.limits;
  const fileId = await newFile();
  await chunk(fileId, user, { chunk_number: '1', total_chunks: '3' }, binaryBytes(4 * MiB, 12));
  const old = (await fileItem(company, fileId))?.['upload']?.revision as string;
  services.limits = { ...limits, uploadMaxAgeMs: 0 };
  try {
    const fresh = await chunk(
      fileId,
      user,
      { chunk_number: '1', total_chunks: '2' },
      binaryBytes(4 * MiB, 13),
    );
    expect(fresh.statusCode).toBe(200);
  } finally {
    services.limits = limits;
  }
  const upload = (await fileItem(company, fileId))?.['upload'];
  expect(upload).toMatchObject({ total_chunks: 2, chunk_count: 1 });
  expect(upload?.revision).not.toBe(old);
  expect(await objectKeys(`uploads/${company}/${fileId}/${old}/`)).toEqual([]);
});

describe("an application's chunk sent again after its upload completed", () => {
  const v1 = binaryBytes(10 * MiB, 21);
  const v2 = binaryBytes(10 * MiB, 22);
  // With total_size, as careful clients send it: the size takes part in every rule here.
  const q = (n: number) => ({
    chunk_number: String(n),
    total_chunks: '3',
    total_size: String(10 * MiB),
  });
  const piece = (bytes: Buffer, n: number) => bytes.subarray((n - 1) * 4 * MiB, n * 4 * MiB);
  const send = (fileId: string, bytes: Buffer, n: number) =>
    chunk(fileId, app, q(n), piece(bytes, n));
  const sendAll = async (fileId: string, bytes: Buffer) => {
    for (const n of [1, 2, 3]) expect((await send(fileId, bytes, n)).statusCode).toBe(200);
  };
  /** As if the upload had completed minutes ago, past the window for late retries. */
  const windowOver = async (fileId: string) => {
    const item = (await fileItem(company, fileId)) as { content: { completed_at: number } };
    item.content.completed_at -= 10 * 60_000;
    await putFileItem(item);
  };

  test('with the same bytes, is answered and starts nothing', async () => {
    const fileId = await newFile();
    await sendAll(fileId, v1);
    // The reply to the completing chunk was lost: the application sends it again.
    const retried = await send(fileId, v1, 3);
    expect(retried.statusCode).toBe(200);
    expect(resource(retried).upload_data.status).toBe('complete');
    expect((await fileItem(company, fileId))?.['upload']).toBeUndefined();
    // Taken for an overwrite, it started an upload that this later one joined, keeping the
    // stale chunk 3 in place of its own.
    await windowOver(fileId);
    await sendAll(fileId, v2);
    expect(await stored(fileId)).toBe(sha256(v2));
  });

  test('then an overwrite with as many chunks: 409 until the window ends', async () => {
    const fileId = await newFile();
    await sendAll(fileId, v1);
    await send(fileId, v1, 3);
    const early = await send(fileId, v2, 1);
    expect(early.statusCode).toBe(409);
    expect(JSON.parse(early.body).message).toContain('total_chunks=3');
    expect(await stored(fileId)).toBe(sha256(v1));
    await windowOver(fileId);
    await sendAll(fileId, v2);
    expect(await stored(fileId)).toBe(sha256(v2));
  });

  test('an overwrite whose first chunk holds the old bytes: 409, never stuck or mixed', async () => {
    const fileId = await newFile();
    await sendAll(fileId, v1);
    const v3 = Buffer.concat([piece(v1, 1), piece(v2, 2), piece(v2, 3)]);
    expect(resource(await send(fileId, v3, 1)).upload_data.status).toBe('complete');
    expect((await send(fileId, v3, 2)).statusCode).toBe(409);
    await windowOver(fileId);
    await sendAll(fileId, v3);
    expect(await stored(fileId)).toBe(sha256(v3));
  });

  test('the same bytes checked while sibling chunks start an overwrite: the chunk joins it', async () => {
    const fileId = await newFile();
    await sendAll(fileId, v1);
    const v3 = Buffer.concat([piece(v1, 1), piece(v2, 2), piece(v2, 3)]);
    // Chunk 1's comparison is held until chunk 2 (sent at the same time) started the upload.
    let second: Promise<Result> | undefined;
    holdFirst(
      S3Client.prototype as never,
      GetObjectCommand,
      (command) => command.input.Range !== undefined,
      async () => {
        second = send(fileId, v3, 2);
        while (!(await fileItem(company, fileId))?.['upload']) await pause();
      },
    );
    expect((await send(fileId, v3, 1)).statusCode).toBe(200);
    expect((await second!).statusCode).toBe(200);
    const last = await send(fileId, v3, 3);
    expect(resource(last).upload_data.status).toBe('complete');
    expect(await stored(fileId)).toBe(sha256(v3));
  });

  test('an overwrite starting while a chunk is answered as a retry: 409, nothing stuck', async () => {
    const fileId = await newFile();
    await sendAll(fileId, v1);
    const v3 = Buffer.concat([piece(v1, 1), piece(v2, 2), piece(v2, 3)]);
    // Chunk 2 read the record before chunk 1 (sent at the same time) was answered as a retry;
    // its upload's start is held until then.
    let first: Promise<Result> | undefined;
    holdFirst(
      S3Client.prototype as never,
      CreateMultipartUploadCommand,
      () => true,
      async () => {
        first = send(fileId, v3, 1);
        while (!(await fileItem(company, fileId))?.['content']?.retried) await pause();
      },
    );
    expect((await send(fileId, v3, 2)).statusCode).toBe(409);
    expect(resource(await first!).upload_data.status).toBe('complete');
    expect((await fileItem(company, fileId))?.['upload']).toBeUndefined();
    expect(await stored(fileId)).toBe(sha256(v1));
  });

  test('the same bytes, compared as the window closes: an overwrite, not a retry', async () => {
    const fileId = await newFile();
    await sendAll(fileId, v1);
    const item = (await fileItem(company, fileId)) as { content: { completed_at: number } };
    item.content.completed_at = Date.now() - 5 * 60_000 + 300;
    await putFileItem(item);
    // The comparison ends after the window: noting a retry then would leave this overwrite
    // without its chunk 1 once its other chunks start it.
    holdFirst(
      S3Client.prototype as never,
      GetObjectCommand,
      (command) => command.input.Range !== undefined,
      () => new Promise((resolve) => setTimeout(resolve, 600)),
    );
    const v3 = Buffer.concat([piece(v1, 1), piece(v2, 2), piece(v2, 3)]);
    await sendAll(fileId, v3);
    expect(await stored(fileId)).toBe(sha256(v3));
  });

  test('with other bytes, and no retry before: an overwrite', async () => {
    const fileId = await newFile();
    await sendAll(fileId, v1);
    expect((await send(fileId, v2, 3)).statusCode).toBe(200);
    expect((await fileItem(company, fileId))?.['upload']).toMatchObject({ chunk_count: 1 });
    for (const n of [1, 2]) await send(fileId, v2, n);
    expect(await stored(fileId)).toBe(sha256(v2));
  });
});
