import {
  CompleteMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { handler as assembleUpload } from '../../functions/async/assemble-upload';
import { handler as deleteFile } from '../../functions/http/delete-file';
import { binaryBytes, sha256 } from '../helpers/api';
import { chunkItems, fileItem, objectKeys } from '../helpers/aws';
import { MiB } from '../helpers/chunks';
import { httpEvent, invoke, lambdaContext } from '../helpers/events';
import { afterFirst, faultOn, holdFirst } from '../helpers/faults';
import { chunkParams, createEmptyFile, storedData, uploadBytes } from '../helpers/handlers';
import { newCompanyId, tokenFor } from '../helpers/principals';

const company = newCompanyId();
let token: string;

beforeAll(async () => {
  token = await tokenFor({ company, user: 'fay' });
});
afterEach(() => jest.restoreAllMocks());

const s3 = S3Client.prototype as never;

const newFile = () => createEmptyFile(company, token);

const bytes = binaryBytes(10 * MiB, 77);
const chunkOf = (n: number) => bytes.subarray((n - 1) * 4 * MiB, n * 4 * MiB);

const sendChunk = (fileId: string, n: number) =>
  uploadBytes(
    company,
    fileId,
    token,
    { ...chunkParams(n, 3), total_size: String(bytes.length) },
    chunkOf(n),
  );

const content = async (fileId: string) =>
  sha256((await storedData(company, fileId)) ?? Buffer.alloc(0));

test('S3 failing while a chunk is written: 5xx, chunk not recorded, a retry succeeds', async () => {
  const fileId = await newFile();
  faultOn(s3, PutObjectCommand, { failOn: 1 });
  const failed = await sendChunk(fileId, 2);
  expect(failed.statusCode).toBe(500);
  const revision = String((await fileItem(company, fileId))?.['upload']?.revision);
  expect(await chunkItems(company, fileId, revision)).toEqual({});
  jest.restoreAllMocks();

  expect((await sendChunk(fileId, 2)).statusCode).toBe(200);
  const upload = (await fileItem(company, fileId))?.['upload'];
  const chunks = await chunkItems(company, fileId, upload?.revision);
  expect(chunks).toEqual({
    2: { size: 4 * MiB, nonce: expect.stringMatching(/^[0-9a-f]{8}$/) },
  });
  // The recorded attempt is the one stored, under the key its nonce names.
  expect(await objectKeys(`uploads/${company}/${fileId}/`)).toContain(
    `uploads/${company}/${fileId}/${upload?.revision}/2.${chunks[2]?.nonce}`,
  );
});

test('two last chunks at once: exactly one assembly, a correct file', async () => {
  const fileId = await newFile();
  expect((await sendChunk(fileId, 1)).statusCode).toBe(200);
  const completions = faultOn(s3, CompleteMultipartUploadCommand);
  const [a, b] = await Promise.all([sendChunk(fileId, 2), sendChunk(fileId, 3)]);
  expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
  expect(completions.count).toBe(1);
  expect(await content(fileId)).toBe(sha256(bytes));
  expect(await objectKeys(`uploads/${company}/${fileId}/`)).toEqual([]);
});

test('a part still being uploaded ahead when the last chunk lands is not uploaded twice', async () => {
  const fileId = await newFile();
  expect((await sendChunk(fileId, 1)).statusCode).toBe(200);
  // Part 1 is chunks 1 and 2. Its upload (by chunk 2's request) is held until chunk 3's
  // request has claimed completion, so completion finds it missing and in flight.
  let last: ReturnType<typeof sendChunk> | undefined;
  const part1 = holdFirst(
    s3,
    UploadPartCommand,
    (command) => command.input.PartNumber === 1,
    async () => {
      last = sendChunk(fileId, 3);
      while ((await fileItem(company, fileId))?.['upload']?.state !== 'assembling') {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
  );
  expect((await sendChunk(fileId, 2)).statusCode).toBe(200);
  const completed = await last!;
  expect(JSON.parse(completed.body)).toMatchObject({
    resource: { upload_data: { status: 'complete', size: bytes.length } },
  });
  expect(part1.count).toBe(1);
  expect(await content(fileId)).toBe(sha256(bytes));
});

test('a completion that fails leaves no data object, and a retry of the last chunk completes', async () => {
  const fileId = await newFile();
  await sendChunk(fileId, 1);
  await sendChunk(fileId, 2);
  faultOn(s3, CompleteMultipartUploadCommand, { failOn: 1 });
  const failed = await sendChunk(fileId, 3);
  expect(failed.statusCode).toBe(500);
  expect(await objectKeys(`files/${company}/${fileId}/`)).toEqual([]);
  expect(await fileItem(company, fileId)).toMatchObject({
    upload: { state: 'receiving', chunk_count: 3 },
  });
  jest.restoreAllMocks();

  const retried = await sendChunk(fileId, 3);
  expect(retried.statusCode).toBe(200);
  expect(JSON.parse(retried.body)).toMatchObject({
    resource: { upload_data: { status: 'complete' } },
  });
  expect(await content(fileId)).toBe(sha256(bytes));
});

test('the asynchronous assembler can run again after a failure, and twice is harmless', async () => {
  const other = await newFile();
  // No part can be uploaded ahead: everything is left to the assembler.
  let failing = true;
  const parts = faultOn(s3, UploadPartCommand, { failAll: () => failing });
  for (const n of [1, 2]) await sendChunk(other, n);
  // Hand-off as above 64 MiB: the completing request claims, the async function assembles.
  const { services } = await import('../../lib/services/full');
  const limits = services.limits;
  services.limits = { ...limits, syncAssemblyMaxBytes: 0 };
  const enqueued: unknown[] = [];
  const enqueue = jest.spyOn(services.assemblies, 'enqueue').mockImplementation(async (job) => {
    enqueued.push(job);
  });
  try {
    const handedOff = await sendChunk(other, 3);
    expect(JSON.parse(handedOff.body)).toMatchObject({
      resource: { upload_data: { status: 'assembling' } },
    });
  } finally {
    services.limits = limits;
    enqueue.mockRestore();
  }
  expect(enqueued).toHaveLength(1);
  await expect(assembleUpload(enqueued[0] as never, lambdaContext() as never)).rejects.toThrow(
    'injected fault',
  );
  expect(await objectKeys(`files/${company}/${other}/`)).toEqual([]);
  expect(parts.count).toBeGreaterThanOrEqual(3);
  failing = false;
  jest.restoreAllMocks();
  await assembleUpload(enqueued[0] as never, lambdaContext() as never);
  await assembleUpload(enqueued[0] as never, lambdaContext() as never);
  expect(await content(other)).toBe(sha256(bytes));
  expect(await objectKeys(`files/${company}/${other}/`)).toHaveLength(1);
});

test('a delete landing between a chunk write and its record: 404, nothing left behind', async () => {
  const fileId = await newFile();
  await sendChunk(fileId, 1);
  afterFirst(s3, PutObjectCommand, async () => {
    const removed = await invoke(
      deleteFile,
      httpEvent('delete-file', { token, companyId: company, fileId }),
    );
    expect(removed.statusCode).toBe(200);
  });
  const late = await sendChunk(fileId, 2);
  expect(late.statusCode).toBe(404);
  expect(await fileItem(company, fileId)).toBeUndefined();
  expect(await objectKeys(`uploads/${company}/${fileId}/`)).toEqual([]);
});
