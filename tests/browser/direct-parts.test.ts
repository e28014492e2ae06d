import {
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { s3 } from '../helpers/aws';
import { randomUUID } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { launchChromium, servePage, type PageServer } from './page-server';

// A page on another origin than the bucket's sends a part to its presigned URL, as Uppy's S3
// plugin does, and reads the part's ETag: the bucket's CORS rule (from serverless.yml) must
// allow the PUT and expose the header.
let browser: Browser;
let pageServer: PageServer;

beforeAll(async () => {
  [browser, pageServer] = await Promise.all([launchChromium(), servePage()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await pageServer?.close();
});

test('a browser PUTs a part to its presigned URL from another origin and reads its ETag', async () => {
  const upload = {
    Bucket: process.env['BUCKET'],
    Key: `files/browser-test/${randomUUID()}/r1/data`,
  };
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand(upload));
  const url = await getSignedUrl(
    s3,
    new UploadPartCommand({ ...upload, UploadId, PartNumber: 1 }),
    { expiresIn: 300 },
  );
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(pageServer.origin);
    const sent = await page.evaluate(async (target) => {
      const response = await fetch(target, {
        method: 'PUT',
        body: new Uint8Array(64 * 1024).fill(7),
      });
      return { status: response.status, etag: response.headers.get('ETag') };
    }, url);
    const listed = await s3.send(new ListPartsCommand({ ...upload, UploadId }));
    expect(sent).toEqual({ status: 200, etag: listed.Parts?.[0]?.ETag });
    expect(listed.Parts?.[0]?.Size).toBe(64 * 1024);
  } finally {
    await context.close();
  }
});
