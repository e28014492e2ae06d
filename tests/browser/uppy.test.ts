import { build } from 'esbuild';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { API, call, downloadBytes, filesUrl, sha256 } from '../helpers/api';
import { fileItem } from '../helpers/aws';
import { MiB } from '../helpers/direct';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';
import { launchChromium, servePage, type PageServer } from './page-server';

/**
 * Uppy's S3 plugin, unchanged, against the direct-upload routes in Debian's Chromium: a page
 * on another origin, the user's token in the plugin's `headers`, the parts straight to the
 * local S3. Two published versions speak this contract (the Companion one with custom
 * headers): @uppy/aws-s3 4.3.2 (in the `uppy` 4.18.3 bundle, as its prebuilt ES module) and
 * 5.1.0 with @uppy/core 5.2.0 (bundled here by esbuild as an application would).
 */

const root = path.resolve(__dirname, '../..');
const company = newCompanyId();
let token: string;
let browser: Browser;
let pageServer: PageServer;
let buildDir: string;

beforeAll(async () => {
  buildDir = await mkdtemp(path.join(tmpdir(), 'uppy-v5-'));
  const v5 = path.join(buildDir, 'uppy-v5.mjs');
  await build({
    stdin: {
      contents:
        "export { default as Uppy } from '@uppy/core';\n" +
        "export { default as AwsS3 } from '@uppy/aws-s3';\n",
      resolveDir: root,
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    outfile: v5,
    logLevel: 'silent',
  });
  const script = 'text/javascript; charset=utf-8';
  [browser, pageServer, token] = await Promise.all([
    launchChromium(),
    servePage({
      '/': { file: path.join(__dirname, 'uppy-page.html'), type: 'text/html; charset=utf-8' },
      '/uppy-v4.mjs': {
        file: path.join(root, 'node_modules/uppy-v4/dist/uppy.min.mjs'),
        type: script,
      },
      '/uppy-v5.mjs': { file: v5, type: script },
    }),
    tokenFor({ company, user: 'ulla' }),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await pageServer?.close();
  if (buildDir) await rm(buildDir, { recursive: true, force: true });
});

interface Uploaded {
  successful: { uploadURL: string; body: { resource: { id: string } } }[];
  failed: string[];
}

async function openUppy(
  version: string,
  options: { limit?: number; partSize?: number } = {},
): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${pageServer.origin}/?uppy=${version}`);
  await page.waitForFunction(() => (globalThis as { ready?: boolean }).ready === true);
  await inPage(page, 'start', { endpoint: `${API()}/companies/${company}`, token, ...options });
  return page;
}

/** Calls a function of the page's `page` object (uppy-page.html) with JSON arguments. */
function inPage<T = unknown>(page: Page, name: string, ...values: unknown[]): Promise<T> {
  return page.evaluate(
    ({ name, values }) =>
      (globalThis as unknown as { page: Record<string, (...a: unknown[]) => unknown> }).page[name]!(
        ...values,
      ),
    { name, values },
  ) as Promise<T>;
}

const upload = (page: Page) => inPage<Uploaded>(page, 'upload');

describe.each(['v4', 'v5'])('Uppy %s with @uppy/aws-s3', (version) => {
  test('uploads 64 MiB through the direct path with visible progress; the download is identical', async () => {
    // The page declares each file's size and part size: S3 takes exactly those bytes.
    const page = await openUppy(version, { partSize: 8 * MiB });
    try {
      const added = await inPage<{ sha256: string }>(page, 'addRandomFile', {
        size: 64 * MiB,
        seed: 64,
        name: `big-${version}.bin`,
      });
      const parts: string[] = [];
      page.on('request', (request) => {
        if (request.method() === 'PUT') parts.push(request.url());
      });
      const result = await upload(page);
      expect(result.failed).toEqual([]);
      const [uploaded] = result.successful;
      const fileId = uploaded!.body.resource.id;
      expect(uploaded!.uploadURL).toBe(
        `/internal/services/files/v1/companies/${company}/files/${fileId}/download`,
      );
      // 8 parts of 8 MiB, each PUT straight to S3 with its length signed.
      expect(parts).toHaveLength(8);
      expect(
        parts.every((url) =>
          new URL(url).searchParams.get('X-Amz-SignedHeaders')?.includes('content-length'),
        ),
      ).toBe(true);
      expect(parts.every((url) => url.startsWith(process.env['S3_ENDPOINT']!))).toBe(true);
      // The progress bar moved through the upload and ended full.
      const progress = await inPage<{ seen: number[]; shown: number }>(page, 'progress');
      expect(progress.shown).toBe(100);
      expect(
        progress.seen.filter((percent) => percent > 0 && percent < 100).length,
      ).toBeGreaterThan(3);
      expect(progress.seen).toEqual([...progress.seen].sort((a, b) => a - b));

      const download = await downloadBytes(company, fileId, token);
      expect([download.status, download.bytes.length]).toEqual([200, 64 * MiB]);
      expect(sha256(download.bytes)).toBe(added.sha256);
    } finally {
      await page.context().close();
    }
  });

  test("an image's thumbnails appear once it is uploaded", async () => {
    const page = await openUppy(version);
    try {
      await inPage(page, 'addImage', { width: 1200, height: 800 });
      const result = await upload(page);
      expect(result.failed).toEqual([]);
      const fileId = result.successful[0]!.body.resource.id;
      let resource: { metadata: { thumbnails_status: string }; thumbnails: { url: string }[] };
      for (;;) {
        const read = await call<{ resource: typeof resource }>(filesUrl(company, `/${fileId}`), {
          headers: bearer(token),
        });
        resource = read.body.resource;
        if (resource.metadata.thumbnails_status !== 'waiting') break;
        await page.waitForTimeout(100);
      }
      expect(resource.metadata.thumbnails_status).toBe('done');
      const shown = await inPage(
        page,
        'showThumbnail',
        new URL(resource.thumbnails[0]!.url, API()).href,
      );
      expect(shown).toEqual({ width: 600, height: 400 });
    } finally {
      await page.context().close();
    }
  });

  test('an upload interrupted after some parts resumes from the parts S3 holds', async () => {
    const size = 32 * MiB + 123;
    const file = { size, seed: 7, name: `resumed-${version}.bin` };
    // First page: two parts at a time; the page is gone once two parts are in.
    const first = await openUppy(version, { limit: 2 });
    let s3Multipart: { key: string; uploadId: string } | undefined;
    const twoParts = new Promise<void>((resolve) => {
      let count = 0;
      void first.exposeFunction('partUploaded', (state: typeof s3Multipart) => {
        s3Multipart = state;
        if (++count === 2) resolve();
      });
    });
    await inPage(first, 'addRandomFile', file);
    void upload(first).catch(() => undefined);
    await twoParts;
    await first.context().close();
    expect(s3Multipart).toMatchObject({
      key: expect.stringMatching(/^files\//),
      uploadId: expect.any(String),
    });

    // Second page: the same file, told its upload; Uppy lists the parts and sends the rest.
    const second = await openUppy(version, { limit: 2 });
    try {
      const requests: { method: string; url: string }[] = [];
      second.on('request', (request) =>
        requests.push({ method: request.method(), url: request.url() }),
      );
      const added = await inPage<{ id: string; sha256: string }>(second, 'addRandomFile', file);
      await inPage(second, 'restore', added.id, s3Multipart);
      const result = await upload(second);
      expect(result.failed).toEqual([]);
      const listing = requests.filter(
        ({ method, url }) =>
          method === 'GET' &&
          url.includes(`/s3/multipart/${encodeURIComponent(s3Multipart!.uploadId)}?key=`),
      );
      expect(listing).toHaveLength(1);
      // 32 MiB + 123 bytes in Uppy's 5 MiB parts: 7 parts, of which at least the two S3 held
      // are not sent again (parts in flight when the first page closed may be sent twice).
      const puts = requests.filter(({ method }) => method === 'PUT');
      expect(puts.length).toBeLessThanOrEqual(5);
      const fileId = result.successful[0]!.body.resource.id;
      expect(s3Multipart!.key).toContain(`/${fileId}/`);
      const download = await downloadBytes(company, fileId, token);
      expect(sha256(download.bytes)).toBe(added.sha256);
      expect(await fileItem(company, fileId)).toMatchObject({ content: { size, chunks: 7 } });
    } finally {
      await second.context().close();
    }
  });
});
