import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import JSZip from 'jszip';
import { encrypt } from 'officecrypto-tool';
import sharp from 'sharp';
import { measuredRenderInChild, RENDER_MEMORY_BYTES } from '../../lib/thumbnails/child';
import { officeConfinement } from '../../lib/thumbnails/office';
import type { PreviewKind } from '../../lib/thumbnails/kinds';
import { binaryBytes, inflatingPdf, tinyPdf } from '../helpers/api';
import { startCanary } from '../helpers/canary';
import { NO_NAMESPACES, standInCommands } from '../helpers/commands';
import { docxBomb, officeDocument } from '../helpers/office';

/**
 * The bad documents of the office-preview issue, each through the renderer child as the
 * thumbnailer runs it (LibreOffice, pdf.js): each ends with thumbnails or an error within the
 * timeout, and no process of the renderer passes the memory bound. Each test prints its
 * outcome, time and the renderer's peak resident memory.
 */

const TIMEOUT_MS = 20_000; // THUMBNAIL_TIMEOUT_SECONDS
const limits = { maxPixels: 100_000_000, timeoutMs: TIMEOUT_MS, kinds: { office: true } };
const MIB = 1024 ** 2;

async function render(kind: PreviewKind, bytes: Buffer, name: string, mime: string) {
  const started = performance.now();
  const result = await measuredRenderInChild(kind, bytes, { mime, name }, limits);
  const outcome =
    result.error === undefined ? `${result.thumbnails?.length} thumbnails` : result.error;
  process.stdout.write(
    `${name}: ${outcome} in ${result.ms} ms; peak RSS ${Math.round(result.peak.bytes / MIB)} MiB ` +
      `(${result.peak.process})\n`,
  );
  expect(performance.now() - started).toBeLessThan(TIMEOUT_MS + 5_000);
  expect(result.peak.bytes).toBeLessThan(512 * MIB);
  return result;
}

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

test('a 1 MB PDF whose stream inflates to 1 GiB: error, stopped at the memory bound', async () => {
  const result = await render('pdf', await inflatingPdf(), 'inflating.pdf', 'application/pdf');
  expect(result.error).toMatch(`needed more than ${RENDER_MEMORY_BYTES / MIB} MiB`);
}, 60_000);

test('a 14400 x 14400 pt page: one thumbnail, drawn at the scale that fits', async () => {
  const result = await render(
    'pdf',
    tinyPdf('poster', 1, [14_400, 14_400]),
    'poster.pdf',
    'application/pdf',
  );
  expect(result.thumbnails?.map((t) => [t.width, t.height])).toEqual([[400, 400]]);
});

test('a PDF of 10,000 pages: its first 10', async () => {
  const result = await render('pdf', tinyPdf('page', 10_000), 'long.pdf', 'application/pdf');
  expect(result.thumbnails).toHaveLength(10);
}, 60_000);

test('a truncated docx: done or error', async () => {
  const cut = (await officeDocument('docx', 3)).subarray(0, 1500);
  await render('office', cut, 'cut.docx', DOCX);
}, 60_000);

test('a docx that is a zip bomb (2.8 MB inflating to 412 MB of XML): error', async () => {
  const bomb = await docxBomb();
  const result = await render('office', bomb, 'bomb.docx', DOCX);
  expect(result.error).toBeDefined();
}, 60_000);

test('a password-protected xlsx: error at once (LibreOffice has nobody to ask)', async () => {
  const locked = encrypt(await officeDocument('xlsx'), { password: 'secret' });
  const result = await render('office', locked, 'locked.xlsx', XLSX);
  expect(result.error).toMatch(/could not convert/);
}, 60_000);

test('a .doc of random bytes: done or error', async () => {
  await render('office', binaryBytes(20_000, 4), 'random.doc', 'application/msword');
}, 60_000);

/**
 * No reach outside the document: images linked by URL (a canary server on 127.0.0.1) and by
 * local path (a red PNG) stay out of the thumbnails, as this machine runs LibreOffice (in the
 * sandbox) and as Lambda does (no namespace can be made there: the profile's settings alone).
 */
describe('a document linking to another host or to a local file', () => {
  let canary: Awaited<ReturnType<typeof startCanary>>;
  let secrets: string;
  let red: Buffer;
  const RTF = 'application/rtf';
  const ODT = 'application/vnd.oasis.opendocument.text';

  beforeAll(async () => {
    red = await sharp({
      create: { width: 64, height: 64, channels: 3, background: { r: 255, g: 0, b: 0 } },
    })
      .png()
      .toBuffer();
    canary = await startCanary(red);
    secrets = await mkdtemp(path.join(tmpdir(), 'secrets-'));
    await writeFile(path.join(secrets, 'secret.png'), red);
  });

  afterAll(async () => {
    await canary.close();
    await rm(secrets, { recursive: true, force: true });
  });

  const links = () => ({
    http: canary.url,
    file: pathToFileURL(path.join(secrets, 'secret.png')).href,
  });

  /** An RTF document whose INCLUDEPICTURE field names the image. */
  const rtf = (href: string) =>
    Buffer.from(
      `{\\rtf1\\ansi linked\\par{\\field{\\*\\fldinst INCLUDEPICTURE "${href}" \\\\d}{\\fldrslt x}}\\par}\n`,
    );

  /** Pixels of the linked red image in the thumbnails (none if it was never loaded). */
  async function redPixels(thumbnails: { bytes: Buffer }[]): Promise<number> {
    let count = 0;
    for (const thumbnail of thumbnails) {
      const { data } = await sharp(thumbnail.bytes).removeAlpha().raw().toBuffer({
        resolveWithObject: true,
      });
      for (let i = 0; i < data.length; i += 3) {
        if (data[i]! > 200 && data[i + 1]! < 60 && data[i + 2]! < 60) count++;
      }
    }
    return count;
  }

  async function linkedDocuments() {
    const { http, file } = links();
    const odt = async (href: string) => {
      const zip = await JSZip.loadAsync(await officeDocument('odt', 1, { linkedImage: href }));
      // LibreOffice saved a local link relative to where it made the file: make it absolute.
      const content = (await zip.file('content.xml')!.async('string')).replace(
        /(<draw:image xlink:href=")[^"]*/,
        `$1${href}`,
      );
      // The link must really be in the document, or these tests could not fail.
      expect(content).toContain(`xlink:href="${href}"`);
      return zip.file('content.xml', content).generateAsync({ type: 'nodebuffer' });
    };
    return [
      { name: 'image-http.odt', mime: ODT, bytes: await odt(http), local: false },
      { name: 'image-file.odt', mime: ODT, bytes: await odt(file), local: true },
      { name: 'picture-http.rtf', mime: RTF, bytes: rtf(http), local: false },
      { name: 'picture-file.rtf', mime: RTF, bytes: rtf(file), local: true },
    ];
  }

  test('here LibreOffice runs in the sandbox: no request, no local file in any thumbnail', async () => {
    // Where bubblewrap can run at all (not, say, under an AppArmor that forbids user
    // namespaces), the renderer must use it.
    const bwrap = spawnSync('bwrap', ['--ro-bind', '/', '/', '--unshare-all', 'true']);
    if (bwrap.status === 0) expect(officeConfinement()).toBe('sandbox');
    process.stdout.write(`LibreOffice's confinement here: ${officeConfinement()}\n`);
    const sandboxed = officeConfinement() === 'sandbox';
    const documents = await linkedDocuments();
    canary.hits.length = 0; // LibreOffice may have tried the links while making the documents
    for (const document of documents) {
      const result = await render('office', document.bytes, document.name, document.mime);
      expect([document.name, result.error]).toEqual([document.name, undefined]);
      // Without the sandbox, RTF fields still reach local images (see the next test).
      if (sandboxed || !(document.local && document.name.endsWith('.rtf'))) {
        expect([document.name, await redPixels(result.thumbnails ?? [])]).toEqual([
          document.name,
          0,
        ]);
      }
    }
    expect(canary.hits).toEqual([]);
  }, 120_000);

  test('as on Lambda, with no namespace to be had, the settings alone keep every request in', async () => {
    // bwrap and unshare that fail, as they do on Lambda: the renderer's probe finds neither.
    const commands = await standInCommands(NO_NAMESPACES);
    try {
      const documents = await linkedDocuments();
      canary.hits.length = 0;
      for (const document of documents) {
        const result = await render('office', document.bytes, document.name, document.mime);
        // Images at local paths LibreOffice still follows in RTF fields: on Lambda those are
        // the image's own files, and the thumbnailer's environment holds no secret.
        if (!(document.local && document.name.endsWith('.rtf'))) {
          expect([document.name, await redPixels(result.thumbnails ?? [])]).toEqual([
            document.name,
            0,
          ]);
        }
      }
      expect(canary.hits).toEqual([]);
    } finally {
      await commands.restore();
    }
  }, 120_000);
});
