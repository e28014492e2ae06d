import { encrypt } from 'officecrypto-tool';
import { measuredRenderInChild, RENDER_MEMORY_BYTES } from '../../lib/thumbnails/child';
import type { PreviewKind } from '../../lib/thumbnails/kinds';
import { binaryBytes, inflatingPdf, tinyPdf } from '../helpers/api';
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
  const locked = await encrypt(await officeDocument('xlsx'), { password: 'secret' });
  const result = await render('office', locked, 'locked.xlsx', XLSX);
  expect(result.error).toMatch(/could not convert/);
}, 60_000);

test('a .doc of random bytes: done or error', async () => {
  await render('office', binaryBytes(20_000, 4), 'random.doc', 'application/msword');
}, 60_000);
