import { binaryBytes, call, downloadBytes, filesUrl, multipart, sha256 } from '../helpers/api';
import { fileItem, objectKeys } from '../helpers/aws';
import {
  MiB,
  chunkQuery,
  sendChunk,
  sendChunks,
  shuffled,
  splitChunks,
  type ChunkedUpload,
  type Naming,
} from '../helpers/chunks';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

const company = newCompanyId();
let token: string;
let app: string;
let otherUser: string;

beforeAll(async () => {
  [token, app, otherUser] = await Promise.all([
    tokenFor({ company, user: 'chuck' }),
    tokenFor({ company, application: 'importer' }),
    tokenFor({ company, user: 'other' }),
  ]);
});

type Resource = {
  id: string;
  metadata: { name: string; mime: string } | null;
  upload_data: { size: number; chunks: number; status?: string } | null;
};

async function createEmpty(query = '', as = token): Promise<string> {
  const created = await call<{ resource: Resource }>(filesUrl(company, query ? `?${query}` : ''), {
    method: 'POST',
    headers: bearer(as),
  });
  expect(created.status).toBe(200);
  return created.body.resource.id;
}

async function downloaded(fileId: string, as = token): Promise<Buffer> {
  const { status, bytes } = await downloadBytes(company, fileId, as);
  expect(status).toBe(200);
  return bytes;
}

async function plan(size: number, naming: Naming, seed: number): Promise<ChunkedUpload> {
  const bytes = binaryBytes(size, seed);
  const filename = `big-${naming}.bin`;
  return {
    company,
    token,
    fileId: await createEmpty(),
    bytes,
    chunks: splitChunks(bytes, 4 * MiB),
    naming,
    filename,
  };
}

describe('a 20 MiB file in 5 chunks of 4 MiB, shuffled, 5 in parallel, one sent twice', () => {
  test.each<Naming>(['twake', 'resumable'])('with %s parameter names', async (naming) => {
    const upload = await plan(20 * MiB, naming, naming === 'twake' ? 5 : 6);
    expect(upload.chunks).toHaveLength(5);
    await sendChunks(upload, shuffled([1, 2, 3, 4, 5, 3]));

    const read = await call<{ resource: Resource }>(filesUrl(company, `/${upload.fileId}`), {
      headers: bearer(token),
    });
    expect(read.body.resource).toMatchObject({
      metadata: { name: upload.filename },
      upload_data: { size: 20 * MiB, chunks: 5, status: 'complete' },
    });
    expect(sha256(await downloaded(upload.fileId))).toBe(sha256(upload.bytes));
    // One object, no chunk left behind.
    expect(await objectKeys(`files/${company}/${upload.fileId}/`)).toHaveLength(1);
    expect(await objectKeys(`uploads/${company}/${upload.fileId}/`)).toEqual([]);
  });
});

test('a file whose size is not a multiple of the chunk size, created by its first chunk', async () => {
  const bytes = binaryBytes(9 * MiB + 12345, 9);
  const chunks = splitChunks(bytes, 4 * MiB);
  const first = await call<{ resource: Resource }>(
    filesUrl(company, `?${chunkQuery('twake', 1, 3, bytes.length, 'odd.bin')}`),
    { method: 'POST', headers: bearer(token), body: multipart(chunks[0] as Buffer, 'blob') },
  );
  expect(first.status).toBe(200);
  expect(first.body.resource).toMatchObject({
    metadata: { name: 'odd.bin' },
    upload_data: { size: bytes.length, chunks: 3, status: 'uploading' },
  });
  const upload: ChunkedUpload = {
    company,
    token,
    fileId: first.body.resource.id,
    bytes,
    chunks,
    naming: 'twake',
    filename: 'odd.bin',
  };
  const early = await call(filesUrl(company, `/${upload.fileId}/download`), {
    headers: bearer(token),
  });
  expect(early.status).toBe(409);
  const last = await sendChunk(upload, 3);
  expect(last.body.resource.upload_data.status).toBe('uploading');
  const completing = await sendChunk(upload, 2);
  // Up to 64 MiB the completing request answers once the file is downloadable.
  expect(completing.body.resource.upload_data).toEqual({
    size: bytes.length,
    chunks: 3,
    status: 'complete',
  });
  expect(sha256(await downloaded(upload.fileId))).toBe(sha256(bytes));
});

test('an upload interrupted after 3 of 5 chunks resumes through the chunk test', async () => {
  const upload = await plan(18 * MiB, 'resumable', 12);
  await sendChunks(upload, [1, 4, 5]);

  // resumable.js's testChunks: GET with the chunk's parameters, 200 = stored, 204 = send it.
  const tested = await Promise.all(
    [1, 2, 3, 4, 5].map(async (n) => {
      const query = chunkQuery('resumable', n, 5, upload.bytes.length, upload.filename);
      const response = await call(filesUrl(company, `/${upload.fileId}?${query}`), {
        headers: bearer(token),
      });
      return [n, response.status] as const;
    }),
  );
  expect(tested).toEqual([
    [1, 200],
    [2, 204],
    [3, 204],
    [4, 200],
    [5, 200],
  ]);
  const missing = tested.filter(([, status]) => status === 204).map(([n]) => n);
  await sendChunks(upload, missing);
  expect(sha256(await downloaded(upload.fileId))).toBe(sha256(upload.bytes));
  const after = await call(
    filesUrl(
      company,
      `/${upload.fileId}?${chunkQuery('resumable', 2, 5, upload.bytes.length, 'x')}`,
    ),
    { headers: bearer(token) },
  );
  expect(after.status).toBe(200);
});

describe('bad chunks', () => {
  let upload: ChunkedUpload;

  beforeAll(async () => {
    upload = await plan(10 * MiB, 'twake', 21);
    await sendChunks(upload, [1]);
  });

  test.each([
    ['chunk 0', 'chunk_number=0&total_chunks=3', 400, 'chunk_number'],
    ['chunk N+1', 'chunk_number=4&total_chunks=3', 400, 'chunk_number'],
    ['chunk abc', 'chunk_number=abc&total_chunks=3', 400, 'chunk_number'],
    ['another total_chunks', 'chunk_number=2&total_chunks=4', 409, 'total_chunks=4'],
    ['another total_size', 'chunk_number=2&total_chunks=3&total_size=5', 409, 'total_size=5'],
  ])('%s (%s): %i naming %s', async (_, query, status, named) => {
    const response = await call<{ message: string }>(
      filesUrl(company, `/${upload.fileId}?${query}`),
      { method: 'POST', headers: bearer(token), body: multipart(Buffer.alloc(10), 'blob') },
    );
    expect(response.status).toBe(status);
    expect(response.body.message).toContain(named);
    if (status === 409) expect(response.body.message).toMatch(/upload in progress \(total_/);
  });

  test('a chunk above 4 MiB: 413', async () => {
    const response = await call(
      filesUrl(company, `/${upload.fileId}?chunk_number=2&total_chunks=3`),
      {
        method: 'POST',
        headers: bearer(token),
        body: multipart(Buffer.alloc(4 * MiB + 1), 'blob'),
      },
    );
    expect(response.status).toBe(413);
  });

  test("another user's pending file: 403, nothing stored", async () => {
    const response = await call(
      filesUrl(company, `/${upload.fileId}?chunk_number=2&total_chunks=3`),
      {
        method: 'POST',
        headers: bearer(otherUser),
        body: multipart(Buffer.alloc(10), 'blob'),
      },
    );
    expect(response.status).toBe(403);
    expect(await objectKeys(`uploads/${company}/${upload.fileId}/`)).toHaveLength(1);
  });

  test('a declared file size above the limit: 413 up front', async () => {
    const response = await call<{ message: string }>(
      filesUrl(company, `?chunk_number=1&total_chunks=2000&total_size=${6 * 1024 ** 3}`),
      { method: 'POST', headers: bearer(token), body: multipart(Buffer.alloc(10), 'blob') },
    );
    expect(response.status).toBe(413);
    expect(response.body.message).toContain('5368709120');
  });

  test('the duplicate was harmless and the upload still completes', async () => {
    await sendChunks(upload, [1, 3, 2, 1]);
    expect(sha256(await downloaded(upload.fileId))).toBe(sha256(upload.bytes));
  });
});

describe('overwrite by revision', () => {
  test('users get 403 on a complete file; an application uploads a new revision beside the old one', async () => {
    const original = binaryBytes(6 * MiB, 31);
    const upload = await plan(original.length, 'twake', 31);
    await sendChunks(upload, [1, 2]);
    const [originalKey] = await objectKeys(`files/${company}/${upload.fileId}/`);

    // The creator re-sending a chunk of the upload that just completed (a lost reply): harmless.
    const lateRetry = await sendChunk(upload, 1);
    expect(lateRetry.status).toBe(200);
    expect(lateRetry.body.resource.upload_data).toMatchObject({ size: original.length, chunks: 2 });
    // Anything else from a user is an overwrite, and users may not overwrite.
    const other = binaryBytes(9 * MiB, 33);
    const userTry = await sendChunk(
      { ...upload, bytes: other, chunks: splitChunks(other, 4 * MiB) },
      1,
    );
    expect(userTry.status).toBe(403);
    expect(sha256(await downloaded(upload.fileId))).toBe(sha256(original));

    const replacement = binaryBytes(9 * MiB, 32);
    const overwrite: ChunkedUpload = {
      ...upload,
      token: app,
      bytes: replacement,
      chunks: splitChunks(replacement, 4 * MiB),
      filename: 'v2.bin',
    };
    await sendChunks(overwrite, [3, 1]);
    // The old content is still what downloads while the new revision is incomplete.
    expect(sha256(await downloaded(upload.fileId))).toBe(sha256(original));
    const during = await call<{ resource: Resource }>(filesUrl(company, `/${upload.fileId}`), {
      headers: bearer(token),
    });
    expect(during.body.resource.upload_data).toMatchObject({ size: original.length, chunks: 2 });

    await sendChunks(overwrite, [2]);
    expect(sha256(await downloaded(upload.fileId))).toBe(sha256(replacement));
    const keys = await objectKeys(`files/${company}/${upload.fileId}/`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toBe(originalKey);
    const after = await call<{ resource: Resource }>(filesUrl(company, `/${upload.fileId}`), {
      headers: bearer(token),
    });
    expect(after.body.resource).toMatchObject({
      metadata: { name: 'v2.bin' },
      upload_data: { size: replacement.length, chunks: 3, status: 'complete' },
    });
  });
});

test('delete during an upload removes every chunk and the record', async () => {
  const upload = await plan(12 * MiB, 'twake', 41);
  await sendChunks(upload, [1, 2]);
  expect(await objectKeys(`uploads/${company}/${upload.fileId}/`)).toHaveLength(2);
  const removed = await call(filesUrl(company, `/${upload.fileId}`), {
    method: 'DELETE',
    headers: bearer(token),
  });
  expect(removed.status).toBe(200);
  expect(await objectKeys(`uploads/${company}/${upload.fileId}/`)).toEqual([]);
  expect(await fileItem(company, upload.fileId)).toBeUndefined();
  const late = await sendChunk(upload, 3);
  expect(late.status).toBe(404);
  expect(await objectKeys(`uploads/${company}/${upload.fileId}/`)).toEqual([]);
  expect(await fileItem(company, upload.fileId)).toBeUndefined();
});

test('large uploads complete within the last chunk request: its parts went up ahead', async () => {
  const upload = await plan(68 * MiB + 7, 'twake', 51);
  expect(upload.chunks).toHaveLength(18);
  await sendChunks(upload, upload.chunks.map((_, i) => i + 1).slice(0, -1));
  const completing = await sendChunk(upload, 18);
  expect(completing.body.resource.upload_data.status).toBe('complete');
  expect(sha256(await downloaded(upload.fileId))).toBe(sha256(upload.bytes));
});

test('chunks that cannot be grouped as announced are assembled asynchronously; metadata says so', async () => {
  // 1 MiB chunks, no total_size, the last chunk first: the upload expects 4 MiB chunks and
  // groups them by two, which S3 cannot take as parts (2 MiB < 5 MiB). Completion has to
  // stream all 68 MiB again, more than the completing request may take on.
  const bytes = binaryBytes(68 * MiB, 61);
  const upload: ChunkedUpload = {
    company,
    token,
    fileId: await createEmpty(),
    bytes,
    chunks: splitChunks(bytes, MiB),
    naming: 'twake',
    filename: 'small-chunks.bin',
  };
  const send = (n: number) =>
    call<{ resource: Resource }>(
      filesUrl(company, `/${upload.fileId}?chunk_number=${n}&total_chunks=68`),
      {
        method: 'POST',
        headers: bearer(token),
        body: multipart(upload.chunks[n - 1] as Buffer, 'blob'),
      },
    );
  expect((await send(68)).status).toBe(200);
  for (let n = 1; n < 67; n++) expect((await send(n)).status).toBe(200);
  const completing = await send(67);
  expect(completing.status).toBe(200);
  expect(completing.body.resource.upload_data?.status).toBe('assembling');

  expect(await completed(upload.fileId)).toBe('complete');
  expect(sha256(await downloaded(upload.fileId))).toBe(sha256(bytes));
  expect(await objectKeys(`uploads/${company}/${upload.fileId}/`)).toEqual([]);
});

/** Reads the upload's status until it is complete (or 30 s have passed). */
async function completed(fileId: string): Promise<string> {
  let status = 'assembling';
  for (let i = 0; i < 300 && status !== 'complete'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const read = await call<{ resource: Resource }>(filesUrl(company, `/${fileId}`), {
      headers: bearer(token),
    });
    status = read.body.resource.upload_data?.status ?? 'missing';
  }
  return status;
}

test('1,005 chunks of 100 bytes: the last one answers assembling, the file completes whole', async () => {
  // 100 KB in all, far under the size a request assembles, but 1,005 chunks to read back: more
  // than a request may take on (and more than the local S3 lists in one page).
  const bytes = binaryBytes(1005 * 100, 11);
  const upload: ChunkedUpload = {
    company,
    token,
    fileId: await createEmpty(),
    bytes,
    chunks: splitChunks(bytes, 100),
    naming: 'twake',
    filename: 'many-chunks.bin',
  };
  expect(upload.chunks).toHaveLength(1005);
  await sendChunks(
    upload,
    upload.chunks.slice(0, -1).map((_, i) => i + 1),
  );
  const last = await sendChunk(upload, 1005);
  expect(last.status).toBe(200);
  expect(last.body.resource.upload_data.status).toBe('assembling');
  expect(await completed(upload.fileId)).toBe('complete');
  expect(sha256(await downloaded(upload.fileId))).toBe(sha256(bytes));
}, 120_000);
