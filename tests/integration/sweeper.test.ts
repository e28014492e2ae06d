import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { handler as sweep } from '../../functions/jobs/sweep';
import { binaryBytes, sha256 } from '../helpers/api';
import { CompleteMultipartUploadCommand, S3Client } from '@aws-sdk/client-s3';
import { fileItem, objectKeys, putFileItem } from '../helpers/aws';
import { faultOn } from '../helpers/faults';
import { MiB } from '../helpers/chunks';
import { invoke } from '../helpers/events';
import { chunkParams, createEmptyFile, storedData, uploadBytes } from '../helpers/handlers';
import { newCompanyId, tokenFor } from '../helpers/principals';

// Ages of a second: each test sweeps its own company only, the stack is shared.
const company = newCompanyId();
let user: string;
let app: string;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sweepNow = (overrides: Record<string, unknown> = {}) =>
  invoke(sweep, {
    company_id: company,
    abandoned_after_seconds: 1,
    stuck_after_seconds: 1,
    ...overrides,
  });

beforeAll(async () => {
  [user, app] = await Promise.all([
    tokenFor({ company, user: 'sam' }),
    tokenFor({ company, application: 'sweep-app' }),
  ]);
});

const chunk = (fileId: string, token: string, n: number, total: number, bytes: Buffer) =>
  uploadBytes(company, fileId, token, chunkParams(n, total), bytes);
const emptyFile = () => createEmptyFile(company, user);

test('abandoned uploads and empty creates are removed with their chunks; fresh ones are kept', async () => {
  const abandoned = await emptyFile();
  await chunk(abandoned, user, 1, 3, binaryBytes(MiB, 1));
  const empty = await emptyFile();
  await wait(1100);
  const fresh = await emptyFile();
  await chunk(fresh, user, 1, 3, binaryBytes(MiB, 2));

  const report = await sweepNow({ stuck_after_seconds: 3600 });
  expect(report).toMatchObject({ removed_files: 2, errors: 0 });
  expect(await fileItem(company, abandoned)).toBeUndefined();
  expect(await fileItem(company, empty)).toBeUndefined();
  expect(await objectKeys(`uploads/${company}/${abandoned}/`)).toEqual([]);
  expect(await fileItem(company, fresh)).toMatchObject({ upload: { chunk_count: 1 } });
});

test('an abandoned overwrite is dropped; the content it was replacing stays', async () => {
  const fileId = await emptyFile();
  const original = binaryBytes(1000, 3);
  await chunk(fileId, user, 1, 1, original);
  await chunk(fileId, app, 1, 2, binaryBytes(MiB, 4));
  await wait(1100);
  const result = await sweepNow({ stuck_after_seconds: 3600 });
  expect(result).toMatchObject({ cancelled_uploads: 1 });
  const item = await fileItem(company, fileId);
  expect(item?.['upload']).toBeUndefined();
  expect(item?.['content']).toMatchObject({ size: 1000 });
  expect(await storedData(company, fileId)).toEqual(original);
});

test('an upload whose completion died is completed', async () => {
  const fileId = await emptyFile();
  const bytes = binaryBytes(6 * MiB, 5);
  await chunk(fileId, user, 1, 2, bytes.subarray(0, 4 * MiB));
  // The completing request fails, and its client never comes back.
  faultOn(S3Client.prototype as never, CompleteMultipartUploadCommand, { failOn: 1 });
  expect((await chunk(fileId, user, 2, 2, bytes.subarray(4 * MiB))).statusCode).toBe(500);
  jest.restoreAllMocks();
  expect(await fileItem(company, fileId)).toMatchObject({
    upload: { state: 'receiving', chunk_count: 2 },
  });
  await wait(1100);
  expect(await sweepNow()).toMatchObject({ resumed_uploads: 1, errors: 0 });
  expect((await fileItem(company, fileId))?.['content']).toMatchObject({
    size: 6 * MiB,
    chunks: 2,
  });
  expect(sha256((await storedData(company, fileId)) ?? Buffer.alloc(0))).toBe(sha256(bytes));
});

test('thumbnails stuck waiting become error; a delete that died is finished', async () => {
  const waitingId = crypto.randomUUID();
  const deletingId = crypto.randomUUID();
  const old = Date.now() - 10_000;
  const base = {
    company_id: company,
    user_id: 'sam',
    application_id: null,
    created_at: old,
    updated_at: old,
  };
  await putFileItem({
    ...base,
    id: waitingId,
    content: {
      revision: 'rold00000000000',
      name: 'a.png',
      mime: 'image/png',
      size: 10,
      chunks: 1,
      thumbnails_status: 'waiting',
      thumbnails: [],
      completed_at: old,
    },
  });
  await putFileItem({ ...base, id: deletingId, deleting: true });
  const result = await sweepNow();
  expect(result).toMatchObject({ failed_thumbnails: 1, finished_deletes: 1, errors: 0 });
  expect((await fileItem(company, waitingId))?.['content']?.thumbnails_status).toBe('error');
  expect(await fileItem(company, deletingId)).toBeUndefined();
});

test('npm run sweep runs it on the running stack', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      path.resolve(__dirname, '../../scripts/sweep.mts'),
      '--company',
      company,
      '--stuck-after',
      '3600',
    ],
    { env: process.env },
  );
  expect(JSON.parse(stdout)).toMatchObject({ scanned: expect.any(Number), errors: 0 });
});
