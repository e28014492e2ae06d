import { CompleteMultipartUploadCommand } from '@aws-sdk/client-s3';
import { handler as sweep } from '../../functions/jobs/sweep';
import { fileRecords } from '../../lib/aws/dynamodb';
import { services } from '../../lib/services/storage';
import { signPart as signPartNow } from '../../lib/domain/uploads';
import { binaryBytes, downloadBytes, sha256 } from '../helpers/api';
import { fileItem, s3 } from '../helpers/aws';
import {
  MiB,
  complete,
  listParts,
  partsOf,
  putPart,
  sendPart,
  signPart,
  started,
  uploadDirect,
} from '../helpers/direct';
import { invoke } from '../helpers/events';
import { newCompanyId, tokenFor } from '../helpers/principals';

/**
 * Direct uploads where time or a failure matters: an expired part URL, two completions at
 * once, and the sweeper ending what clients abandoned or completions left half done.
 */

const company = newCompanyId();
let alice: string;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  alice = await tokenFor({ company, user: 'alice' });
});

test('a part URL expires after PART_URL_TTL_SECONDS; the client gets a new one', async () => {
  const upload = await started(company, alice, { filename: 'late.bin' });
  const ttl = Number(process.env['PART_URL_TTL_SECONDS']);
  expect(ttl).toBe(900);
  // Signed as it would have been a second more than its lifetime ago.
  jest.useFakeTimers({
    now: Date.now() - (ttl + 1) * 1000,
    doNotFake: [
      'setTimeout',
      'nextTick',
      'setImmediate',
      'queueMicrotask',
      'clearTimeout',
      'setInterval',
      'clearInterval',
      'performance',
      'hrtime',
    ],
  });
  let old: { url: string; headers: Record<string, string> };
  try {
    old = await signPartNow(services, {
      principal: { kind: 'user', userId: 'alice' },
      companyId: company,
      key: upload.key,
      uploadId: upload.uploadId,
      partNumber: 1,
    });
  } finally {
    jest.useRealTimers();
  }
  const refused = await putPart(old, binaryBytes(MiB, 1));
  expect(refused.status).toBe(403);
  expect(refused.body).toContain('Request has expired');

  const fresh = await signPart(company, alice, upload, 1);
  expect(fresh.body.expires).toBe(ttl);
  const put = await putPart(fresh.body, binaryBytes(MiB, 1));
  expect(put.status).toBe(200);
});

test('two completions at once: one completes, the other is told to retry or sees it done', async () => {
  const bytes = binaryBytes(6 * MiB, 2);
  const upload = await started(company, alice, { filename: 'raced.bin' });
  const parts = partsOf(bytes, 5 * MiB);
  const etags = [];
  for (const [i, part] of parts.entries()) {
    etags.push(await sendPart(company, alice, upload, i + 1, part));
  }
  const list = etags.map((ETag, i) => ({ PartNumber: i + 1, ETag }));
  const answers = await Promise.all([1, 2, 3].map(() => complete(company, alice, upload, list)));
  const statuses = answers.map((answer) => answer.status);
  expect(statuses).toContain(200);
  expect(statuses.every((status) => status === 200 || status === 409)).toBe(true);
  // A retry of the refused one answers the same file.
  const retried = await complete(company, alice, upload, list);
  expect(retried.status).toBe(200);
  expect(retried.body.resource.upload_data).toMatchObject({ size: bytes.length, chunks: 2 });
  expect(sha256((await downloadBytes(company, upload.file_id, alice)).bytes)).toBe(sha256(bytes));
});

describe('the sweeper', () => {
  // A company of its own: the sweeps above would count the other tests' uploads.
  const company = newCompanyId();
  let alice: string;
  let app: string;
  const sweepNow = () =>
    invoke(sweep, { company_id: company, abandoned_after_seconds: 1, stuck_after_seconds: 3600 });
  beforeAll(async () => {
    [alice, app] = await Promise.all([
      tokenFor({ company, user: 'alice' }),
      tokenFor({ company, application: 'importer' }),
    ]);
  });

  test('removes an abandoned new file and aborts its upload; drops an abandoned overwrite only', async () => {
    const abandoned = await started(company, alice, { filename: 'abandoned.bin' });
    await sendPart(company, alice, abandoned, 1, binaryBytes(MiB, 3));
    const kept = await uploadDirect(company, alice, {
      bytes: binaryBytes(MiB, 4),
      name: 'kept.bin',
      type: 'application/octet-stream',
    });
    const overwrite = await started(company, app, { metadata: { file_id: kept.upload.file_id } });
    await wait(1100);
    const report = await sweepNow();
    expect(report).toMatchObject({ removed_files: 1, cancelled_uploads: 1, errors: 0 });
    expect(await fileItem(company, abandoned.file_id)).toBeUndefined();
    expect((await listParts(company, alice, abandoned)).status).toBe(404);
    expect((await listParts(company, app, overwrite)).status).toBe(404);
    const download = await downloadBytes(company, kept.upload.file_id, alice);
    expect(sha256(download.bytes)).toBe(sha256(binaryBytes(MiB, 4)));
  });

  test('a completion that died: back to the client if S3 still holds the parts, finished if S3 completed them', async () => {
    const died = async (name: string, seed: number, completedInS3: boolean) => {
      const bytes = binaryBytes(2 * MiB, seed);
      const upload = await started(company, alice, { filename: name });
      const etag = await sendPart(company, alice, upload, 1, bytes);
      const revision = upload.key.split('/')[3]!;
      // The completing request claimed the upload and died: its claim lapsed.
      const ref = { companyId: company, fileId: upload.file_id, revision };
      expect(
        (await fileRecords.claimAssembly(ref, Date.now() - 120_000, Date.now() - 60_000)).ok,
      ).toBe(true);
      if (completedInS3) {
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: process.env['BUCKET'],
            Key: upload.key,
            UploadId: upload.uploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] },
          }),
        );
      }
      return { upload, bytes, etag };
    };
    const before = await died('before.bin', 5, false);
    const after = await died('after.bin', 6, true);
    const report = await invoke(sweep, {
      company_id: company,
      abandoned_after_seconds: 3600,
      stuck_after_seconds: 3600,
    });
    expect(report).toMatchObject({ resumed_uploads: 2, errors: 0 });
    expect(await fileItem(company, before.upload.file_id)).toMatchObject({
      upload: { state: 'receiving' },
    });
    const retried = await complete(company, alice, before.upload, [
      { PartNumber: 1, ETag: before.etag },
    ]);
    expect(retried.status).toBe(200);
    for (const { upload, bytes } of [before, after]) {
      expect(await fileItem(company, upload.file_id)).toMatchObject({
        content: { size: bytes.length },
      });
      const download = await downloadBytes(company, upload.file_id, alice);
      expect(sha256(download.bytes)).toBe(sha256(bytes));
    }
  });
});
