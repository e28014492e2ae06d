import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import type { PublicFile } from '../../lib/domain/file';
import { startLocalStack, stopLocalStack } from '../../scripts/local/stack-process';
import { API, call, downloadBytes, filesUrl, sha256 } from '../helpers/api';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';
import { paddedNoisePng } from '../helpers/media';
import { launchChromium, servePage, type PageServer } from './page-server';

/**
 * Twake's web client, for real: Chromium runs the requests of Twake's upload service with the
 * resumable.js it vendors (1.1.0), from a page on another origin than the API, against the
 * local stack; bytes are read back the ways Twake reads them (an <img>, a navigation, a blob
 * fetch). The one departure from Twake as shipped is `chunkSize: 4 MiB, forceChunkSize: true`
 * (API Gateway's request limit, TWAKE-CLIENT.md), except in the test of the shipped setting.
 */

const MiB = 1024 * 1024;

type Resource = PublicFile;
type Thumbnail = Resource['thumbnails'][number];
type Outcome =
  | { outcome: 'success'; resource: Resource }
  | { outcome: 'unreadable success' | 'error' | 'interrupted'; message: string };
type UploadOptions = {
  api: string;
  company: string;
  token: string;
  fileId: string;
  chunkSize: number;
  forceChunkSize: boolean;
  testChunks: boolean;
  interrupt: boolean;
};
type ImageShown = {
  event: 'load' | 'error' | 'timeout';
  naturalWidth?: number;
  naturalHeight?: number;
};
type Fetched =
  { status: number; redirected: boolean; size: number; sha256: string } | { error: string };

/** What tests/browser/twake-page.html puts on `window.twake`. */
interface TwakePage {
  create(api: string, company: string, token: string): Promise<Resource>;
  start(options: UploadOptions): void;
  finished(): Promise<Outcome>;
  cancel(
    api: string,
    company: string,
    token: string,
    fileId: string,
  ): Promise<{ status: number; body: string }>;
  showImage(src: string, timeoutMs: number): Promise<ImageShown>;
  navigate(url: string): void;
  fetchSha256(url: string, token: string): Promise<Fetched>;
}

/** Rejects after `ms`: page.evaluate and a download's promises wait forever otherwise. */
async function within<T>(ms: number, what: string, promise: Promise<T>) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Tab {
  page: Page;
  run<K extends keyof TwakePage>(
    method: K,
    args: Parameters<TwakePage[K]>,
    timeoutMs?: number,
  ): Promise<Awaited<ReturnType<TwakePage[K]>>>;
}

/** One resumable.js request for a chunk (a test GET or an upload POST) of `target`. */
interface ChunkRequest {
  method: string;
  chunk: number;
  currentSize: number;
  totalChunks: number;
  request: Request;
}

/** Every chunk request the page makes to `target`, and how many uploads were in flight at most. */
function watchChunks(page: Page, target: string) {
  const seen = { requests: [] as ChunkRequest[], inFlight: 0, maxInFlight: 0 };
  const isUpload = (request: Request) =>
    request.method() === 'POST' && request.url().startsWith(`${target}?`);
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (`${url.origin}${url.pathname}` !== target) return;
    const chunk = url.searchParams.get('resumableChunkNumber');
    if (!chunk) return;
    seen.requests.push({
      method: request.method(),
      chunk: Number(chunk),
      currentSize: Number(url.searchParams.get('resumableCurrentChunkSize')),
      totalChunks: Number(url.searchParams.get('resumableTotalChunks')),
      request,
    });
    if (isUpload(request)) seen.maxInFlight = Math.max(seen.maxInFlight, ++seen.inFlight);
  });
  const settled = (request: Request) => {
    if (isUpload(request)) seen.inFlight--;
  };
  page.on('requestfinished', settled).on('requestfailed', settled);
  return seen;
}

/** [method, chunk number, status] of each request, in the order they were made. */
async function answered(requests: ChunkRequest[]) {
  return Promise.all(
    requests.map(async ({ method, chunk, request }) => [
      method,
      chunk,
      (await request.response())?.status() ?? `failed: ${request.failure()?.errorText}`,
    ]),
  );
}

function firstThumbnail(resource: Resource): Thumbnail {
  const thumbnail = resource.thumbnails[0];
  if (!thumbnail) throw new Error(`no thumbnail in ${JSON.stringify(resource)}`);
  return thumbnail;
}

const company = newCompanyId();
let api: string;
let apiOrigin: string;
let token: string;
let browser: Browser;
let pageServer: PageServer;
let png: Buffer;
/** The tabs of the running test, closed after it; their logs explain its failure. */
let tabs: { context: BrowserContext; log: string[] }[] = [];

// Signatures and resumable.js's parameters make URLs long; the start says which request it was.
const short = (url: string) => (url.length > 160 ? `${url.slice(0, 160)}…` : url);

/** A fresh context (no cache, no cookies) with the test page loaded. */
async function openTab(): Promise<Tab> {
  const context = await browser.newContext({ acceptDownloads: true });
  const log: string[] = [];
  tabs.push({ context, log });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('response', (r) => log.push(`${r.status()} ${r.request().method()} ${short(r.url())}`));
  page.on('requestfailed', (r) =>
    log.push(`failed (${r.failure()?.errorText}) ${r.method()} ${short(r.url())}`),
  );
  page.on('console', (message) => log.push(`console.${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => log.push(`page error: ${error.message}`));
  await page.goto(`${pageServer.origin}/`);
  return {
    page,
    run: (method, args, timeoutMs = 20_000) =>
      within(
        timeoutMs,
        `twake.${method}`,
        page.evaluate(
          ({ name, values }) =>
            (
              globalThis as unknown as { twake: Record<string, (...a: unknown[]) => unknown> }
            ).twake[name]?.(...values),
          { name: method as string, values: args as unknown[] },
        ),
      ) as never,
  };
}

/** A test whose failure message ends with what its pages saw (statuses, errors, console). */
function browserTest(name: string, body: () => Promise<void>, timeoutMs = 60_000) {
  test(
    name,
    async () => {
      try {
        await body();
      } catch (error) {
        const seen = tabs.flatMap(({ log }) => log).slice(-30);
        if (error instanceof Error && seen.length) {
          const told = `${error.message}\n\nLast seen in the page:\n${seen.join('\n')}`;
          // Jest prints the stack, which quotes the message as it was when thrown.
          error.stack = error.stack?.replace(error.message, told);
          error.message = told;
        }
        throw error;
      }
    },
    timeoutMs,
  );
}

/** Twake's download by navigation (location.href, no token): the bytes the browser saved. */
async function downloadByNavigation(tab: Tab, url: string): Promise<Buffer> {
  const [download] = await Promise.all([
    tab.page.waitForEvent('download', { timeout: 20_000 }),
    tab.run('navigate', [url]),
  ]);
  const failure = await within(20_000, 'download.failure()', download.failure());
  if (failure) throw new Error(`the download of ${short(url)} failed: ${failure}`);
  return readFile(await within(20_000, 'download.path()', download.path()));
}

/** A file picked in the page, then Twake's create: the created resource. */
async function pickAndCreate(
  tab: Tab,
  file: { name: string; mimeType: string; buffer: Buffer },
  on = { api: '', token: '' },
): Promise<Resource> {
  await tab.page.setInputFiles('#picker', file);
  return tab.run('create', [on.api || api, company, on.token || token]);
}

/** Twake's options, with the chunking the test asks for. */
const twakeOptions = (fileId: string, chunking: Partial<UploadOptions> = {}): UploadOptions => ({
  api,
  company,
  token,
  fileId,
  chunkSize: 4 * MiB,
  forceChunkSize: true,
  testChunks: false,
  interrupt: false,
  ...chunking,
});

beforeAll(async () => {
  api = API();
  apiOrigin = new URL(api).origin;
  [token, pageServer, browser, png] = await Promise.all([
    tokenFor({ company, user: 'tess' }),
    servePage(),
    launchChromium(),
    paddedNoisePng(12 * MiB, 1024, 1024),
  ]);
}, 60_000);

afterEach(async () => {
  await Promise.all(tabs.map(({ context }) => context.close()));
  tabs = [];
});

afterAll(async () => {
  await browser?.close();
  await pageServer?.close();
});

describe("Twake's web client in Chromium, against the default stack", () => {
  let uploaded: Resource | undefined;
  const theUpload = () => {
    if (!uploaded) throw new Error('the 12 MiB PNG upload (first test) did not succeed');
    return uploaded;
  };

  browserTest(
    'a 12 MiB PNG goes up in 3 chunks of 4 MiB at once and answers its thumbnail',
    async () => {
      const tab = await openTab();
      const created = await pickAndCreate(tab, {
        name: 'noise.png',
        mimeType: 'image/png',
        buffer: png,
      });
      const target = `${api}/companies/${company}/files/${created.id}`;
      const chunks = watchChunks(tab.page, target);
      await tab.run('start', [twakeOptions(created.id)]);
      const outcome = await tab.run('finished', [], 60_000);

      expect(outcome).toMatchObject({ outcome: 'success' });
      expect(await answered(chunks.requests)).toEqual([
        ['POST', 1, 200],
        ['POST', 2, 200],
        ['POST', 3, 200],
      ]);
      expect(chunks.requests.map((r) => [r.currentSize, r.totalChunks])).toEqual([
        [4 * MiB, 3],
        [4 * MiB, 3],
        [4 * MiB, 3],
      ]);
      // simultaneousUploads: 5 puts all three on the wire before the first answer.
      expect(chunks.maxInFlight).toBe(3);

      const { resource } = outcome as { resource: Resource };
      const files = `${new URL(api).pathname}/companies/${company}/files/${created.id}`;
      expect(resource).toMatchObject({
        id: created.id,
        company_id: company,
        metadata: { name: 'noise.png', mime: 'image/png', thumbnails_status: 'done' },
        upload_data: { size: 12 * MiB },
      });
      expect(resource.thumbnails[0]).toEqual({
        index: 0,
        id: '0.webp',
        type: 'image/webp',
        size: expect.any(Number),
        width: 400,
        height: 400,
        thumbhash: expect.any(String), // ours, beside Twake's fields
        blurhash: expect.any(String),
        url: expect.stringMatching(
          new RegExp(`^${files}/thumbnails/0\\?expires=\\d+&signature=[^&]+$`),
        ),
      });
      expect(resource.download_url).toMatch(
        new RegExp(`^${files}/download\\?expires=\\d+&signature=[^&]+$`),
      );
      uploaded = resource;
    },
    90_000,
  );

  browserTest(
    'its <img> shows the signed thumbnail url with no token; the built path needs one',
    async () => {
      const resource = theUpload();
      const thumbnail = firstThumbnail(resource);
      const tab = await openTab();

      const shown = await tab.run('showImage', [new URL(thumbnail.url, apiOrigin).href, 15_000]);
      expect(shown).toEqual({
        event: 'load',
        naturalWidth: thumbnail.width,
        naturalHeight: thumbnail.height,
      });
      expect(shown.naturalWidth).toBeGreaterThan(0);

      const built = `${api}/companies/${company}/files/${resource.id}/thumbnails/${thumbnail.index}`;
      expect(await tab.run('showImage', [built, 15_000])).toMatchObject({ event: 'error' });
      // The page cannot see why: Chromium blocks the JSON error from an <img> (ORB) and
      // reports a failed request, not a response. The same request from here says it.
      expect((await call(built)).status).toBe(401);
    },
  );

  browserTest(
    'it downloads by navigation with no token, and by a blob fetch with the token',
    async () => {
      const resource = theUpload();
      const tab = await openTab();
      if (!resource.download_url) throw new Error(`no download_url in ${JSON.stringify(resource)}`);

      const saved = await downloadByNavigation(tab, new URL(resource.download_url, apiOrigin).href);
      expect(sha256(saved)).toBe(sha256(png));

      const fetched = await tab.run(
        'fetchSha256',
        [`${api}/companies/${company}/files/${resource.id}/download`, token],
        30_000,
      );
      expect(fetched).toEqual({
        status: 200,
        redirected: true,
        size: png.length,
        sha256: sha256(png),
      });
    },
    60_000,
  );

  browserTest(
    'an interrupted upload resumes with testChunks: chunk 1 is tested, not sent again',
    async () => {
      const bytes = randomBytes(12 * MiB);
      const file = { name: 'resumed.bin', mimeType: 'application/octet-stream', buffer: bytes };
      const first = await openTab();
      const created = await pickAndCreate(first, file);
      const target = `${api}/companies/${company}/files/${created.id}`;
      const before = watchChunks(first.page, target);
      await first.run('start', [twakeOptions(created.id, { interrupt: true })]);
      expect(await first.run('finished', [], 30_000)).toMatchObject({ outcome: 'interrupted' });
      expect(await answered(before.requests)).toEqual([['POST', 1, 200]]);

      // The tab is gone; the user picks the same file again in a fresh page.
      await first.page.close();
      const second = await openTab();
      await second.page.setInputFiles('#picker', file);
      const after = watchChunks(second.page, target);
      await second.run('start', [twakeOptions(created.id, { testChunks: true })]);
      const outcome = await second.run('finished', [], 60_000);

      expect(outcome).toMatchObject({ outcome: 'success' });
      const requests = await answered(after.requests);
      expect(requests.filter(([, chunk]) => chunk === 1)).toEqual([['GET', 1, 200]]);
      expect(requests.filter(([, chunk]) => chunk !== 1).sort()).toEqual([
        ['GET', 2, 204],
        ['GET', 3, 204],
        ['POST', 2, 200],
        ['POST', 3, 200],
      ]);
      const { status, bytes: stored } = await downloadBytes(company, created.id, token);
      expect(status).toBe(200);
      expect(sha256(stored)).toBe(sha256(bytes));
    },
    90_000,
  );

  browserTest(
    'cancel: resumable.cancel(), then DELETE answers success and the file is gone',
    async () => {
      const tab = await openTab();
      const created = await pickAndCreate(tab, {
        name: 'cancelled.bin',
        mimeType: 'application/octet-stream',
        buffer: randomBytes(12 * MiB),
      });
      const target = `${api}/companies/${company}/files/${created.id}`;
      // Cancelled as Twake's user would: while the chunks are on the wire.
      await Promise.all([
        tab.page.waitForRequest(
          (request) => request.method() === 'POST' && request.url().startsWith(`${target}?`),
          { timeout: 15_000 },
        ),
        tab.run('start', [twakeOptions(created.id)]),
      ]);
      const cancelled = await tab.run('cancel', [api, company, token, created.id], 30_000);

      expect(cancelled.status).toBe(200);
      expect(JSON.parse(cancelled.body)).toMatchObject({ status: 'success' });
      const after = await call(filesUrl(company, `/${created.id}`), { headers: bearer(token) });
      expect(after.status).toBe(404);
    },
  );

  browserTest(
    "Twake's shipped chunkSize (50000000) sends a 3 MiB file in one request",
    async () => {
      const bytes = randomBytes(3 * MiB);
      const tab = await openTab();
      const created = await pickAndCreate(tab, {
        name: 'shipped.bin',
        mimeType: 'application/octet-stream',
        buffer: bytes,
      });
      const chunks = watchChunks(tab.page, `${api}/companies/${company}/files/${created.id}`);
      await tab.run('start', [
        twakeOptions(created.id, { chunkSize: 50_000_000, forceChunkSize: false }),
      ]);
      const outcome = await tab.run('finished', [], 30_000);

      expect(outcome).toMatchObject({
        outcome: 'success',
        resource: { id: created.id, upload_data: { size: 3 * MiB } },
      });
      expect(await answered(chunks.requests)).toEqual([['POST', 1, 200]]);
      expect(chunks.requests[0]?.totalChunks).toBe(1);
      const { status, bytes: stored } = await downloadBytes(company, created.id, token);
      expect(status).toBe(200);
      expect(sha256(stored)).toBe(sha256(bytes));
    },
  );
});

describe('on a stack started with TOKENLESS_READS=true', () => {
  let stack: { child: ChildProcess; dataDir: string; info: { api: string } } | undefined;
  let tokenlessApi: string;
  let tokenlessToken: string;

  beforeAll(async () => {
    stack = await startLocalStack({
      // Its own esbuild folder: the shared stack keeps serving from .esbuild meanwhile.
      env: { TOKENLESS_READS: 'true', ESBUILD_WORK_FOLDER: '.esbuild-browser' },
    });
    tokenlessApi = stack.info.api;
    tokenlessToken = await tokenFor({ company, user: 'tess' }, stack);
  }, 180_000);

  afterAll(async () => {
    if (stack) await stopLocalStack(stack);
  }, 30_000);

  browserTest(
    "Twake's built thumbnail path and download path work with no token",
    async () => {
      const image = await paddedNoisePng(2 * MiB, 600, 600);
      const tab = await openTab();
      const on = { api: tokenlessApi, token: tokenlessToken };
      const created = await pickAndCreate(
        tab,
        { name: 'open.png', mimeType: 'image/png', buffer: image },
        on,
      );
      await tab.run('start', [twakeOptions(created.id, on)]);
      const outcome = await tab.run('finished', [], 30_000);
      expect(outcome).toMatchObject({ outcome: 'success' });
      const thumbnail = firstThumbnail((outcome as { resource: Resource }).resource);

      const files = `${tokenlessApi}/companies/${company}/files/${created.id}`;
      const shown = await tab.run('showImage', [`${files}/thumbnails/${thumbnail.index}`, 15_000]);
      expect(shown).toEqual({
        event: 'load',
        naturalWidth: thumbnail.width,
        naturalHeight: thumbnail.height,
      });

      const saved = await downloadByNavigation(tab, `${files}/download`);
      expect(sha256(saved)).toBe(sha256(image));
    },
    60_000,
  );
});
