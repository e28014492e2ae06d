import type { S3Event } from 'aws-lambda';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { handler as createFile } from '../../functions/http/create-file';
import { handler as uploadToFile } from '../../functions/http/upload-to-file';
import { handler as makeThumbnails } from '../../functions/s3/make-thumbnails';
import { RetryLater } from '../../lib/domain/errors';
import { fileItem, objectKeys, putFileItem } from '../helpers/aws';
import { httpEvent, invoke } from '../helpers/events';
import { image } from '../helpers/media';
import { newCompanyId, tokenFor } from '../helpers/principals';

const company = newCompanyId();
let user: string;
let app: string;

beforeAll(async () => {
  [user, app] = await Promise.all([
    tokenFor({ company, user: 'theo' }),
    tokenFor({ company, application: 'thumbs' }),
  ]);
});

/** The sample S3 event of events/s3, pointed at one revision. */
function objectCreated(fileId: string, revision: string): S3Event {
  const sample = JSON.parse(
    readFileSync(path.resolve(__dirname, '../../events/s3/object-created.json'), 'utf8'),
  ) as S3Event;
  const [record] = sample.Records;
  if (!record) throw new Error('empty sample event');
  record.s3.bucket.name = process.env['BUCKET'] ?? '';
  record.s3.object.key = `files/${company}/${fileId}/${revision}/data`;
  return sample;
}

/** A PNG uploaded with the handler (no thumbnail_sync), and its revision. */
async function uploadPng(): Promise<{ fileId: string; revision: string }> {
  const png = await image.png(640, 480);
  const created = await invoke(
    createFile,
    httpEvent('create-file', {
      token: user,
      companyId: company,
      query: { filename: 'pic.png' },
      body: { bytes: png, contentType: 'application/octet-stream' },
    }),
  );
  const fileId = (JSON.parse(created.body) as { resource: { id: string } }).resource.id;
  const revision = (await fileItem(company, fileId))?.['content']?.revision as string;
  return { fileId, revision };
}

/** The stack's own thumbnailer reacts to the same event; wait until it has settled. */
async function settled(fileId: string) {
  for (let i = 0; i < 200; i++) {
    const item = await fileItem(company, fileId);
    if (item?.['content']?.thumbnails_status !== 'waiting') return item;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('thumbnails never settled');
}

const thumbnailKeys = async (fileId: string) =>
  (await objectKeys(`files/${company}/${fileId}/`)).filter((key) => key.includes('/thumbnails/'));

test('duplicate events, one after the other and at once, leave exactly one set', async () => {
  const { fileId, revision } = await uploadPng();
  const event = objectCreated(fileId, revision);
  // A duplicate that finds another run holding the thumbnails fails, so Lambda retries it.
  const runs = await Promise.allSettled([
    invoke(makeThumbnails, event),
    invoke(makeThumbnails, event),
  ]);
  for (const run of runs) {
    if (run.status === 'rejected') {
      expect(run.reason).toBeInstanceOf(RetryLater);
      expect(String(run.reason)).toMatch(/another run holds/);
    }
  }
  await settled(fileId);
  await invoke(makeThumbnails, event);
  const item = await settled(fileId);
  expect(item?.['content']).toMatchObject({ thumbnails_status: 'done' });
  expect(item?.['content']?.thumbnails).toHaveLength(1);
  expect(await thumbnailKeys(fileId)).toHaveLength(1);
});

test('a late event for a replaced revision changes nothing and writes nothing', async () => {
  const { fileId, revision: old } = await uploadPng();
  await settled(fileId);
  const overwrite = await invoke(
    uploadToFile,
    httpEvent('upload-to-file', {
      token: app,
      companyId: company,
      fileId,
      query: { filename: 'new.jpg' },
      body: { bytes: await image.jpeg(200, 100), contentType: 'application/octet-stream' },
    }),
  );
  expect(overwrite.statusCode).toBe(200);
  const current = await settled(fileId);
  await invoke(makeThumbnails, objectCreated(fileId, old));
  expect(await fileItem(company, fileId)).toEqual(current);
  expect(await objectKeys(`files/${company}/${fileId}/${old}/`)).toEqual([]);
});

test('a thumbnailer run that fails is retried twice (as Lambda does), then the status is error', async () => {
  // A record awaiting thumbnails of bytes that are not in storage: every run fails reading
  // them, as a crash would, and no S3 event reaches the stack's own thumbnailer.
  const fileId = crypto.randomUUID();
  const revision = `r${Date.now().toString(36)}0badf00d`;
  await putFileItem({
    company_id: company,
    id: fileId,
    user_id: 'theo',
    application_id: null,
    created_at: Date.now(),
    updated_at: Date.now(),
    content: {
      revision,
      name: 'lost.png',
      mime: 'image/png',
      size: 100,
      chunks: 1,
      thumbnails_status: 'waiting',
      thumbnails: [],
    },
  });
  const event = objectCreated(fileId, revision);
  await expect(invoke(makeThumbnails, event)).rejects.toThrow();
  expect((await fileItem(company, fileId))?.['content']).toMatchObject({
    thumbnails_status: 'waiting',
    thumbnail_attempts: 1,
  });
  await expect(invoke(makeThumbnails, event)).rejects.toThrow();
  await invoke(makeThumbnails, event); // Lambda's last try gives up without rendering
  expect((await fileItem(company, fileId))?.['content']).toMatchObject({
    thumbnails_status: 'error',
    thumbnails: [],
    thumbnail_attempts: 3,
  });
});

test('a duplicate event after the thumbnails are done is skipped and not counted as an attempt', async () => {
  const { fileId, revision } = await uploadPng();
  const item = await settled(fileId);
  expect(item?.['content']?.thumbnail_attempts).toBe(1);
  await invoke(makeThumbnails, objectCreated(fileId, revision));
  expect((await fileItem(company, fileId))?.['content']?.thumbnail_attempts).toBe(1);
});
