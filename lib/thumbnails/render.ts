import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { decodeHeif } from './heif';
import { placeholderOf, type Placeholder } from './placeholder';
import type { PDFPageProxy } from 'pdfjs-dist/legacy/build/pdf.mjs';
// child.ts imports renderKind from here: a cycle both sides use only once loaded.
import { renderInChild } from './child';
import { officeToPdf } from './office';
import { kindOf, sniff, type PreviewKind, type PreviewedKinds } from './kinds';

/** Twake's preview box: thumbnails fit inside it, never enlarged, aspect ratio kept. */
export const BOX = { width: 600, height: 400 };
const MAX_PDF_PAGES = 10;

export interface RenderedThumbnail {
  bytes: Buffer;
  /** The true type of `bytes`. */
  type: string;
  ext: string;
  width: number;
  height: number;
  /** On the first thumbnail: what a client paints before it arrives. */
  placeholder?: Placeholder;
}

export interface RenderLimits {
  /** Images above this are not previewed; far above their file size, they are bombs. */
  maxPixels: number;
  timeoutMs: number;
  kinds: PreviewedKinds;
}

/**
 * Real images hold at least a byte per this many pixels even when compressed well; a file
 * declaring far more pixels than that is a decompression bomb, not a big picture.
 */
const BOMB_PIXELS_PER_BYTE = 1000;

/**
 * An image above the pixel limit gets no thumbnail (`done`, like a file above the size
 * limit); one that declares absurdly many pixels for its size is refused (`error`). Only the
 * header is read.
 */
async function checkPixels(input: Buffer, limits: RenderLimits): Promise<boolean> {
  const { width = 0, height = 0 } = await sharp(input, { limitInputPixels: false }).metadata();
  const pixels = width * height;
  if (pixels <= limits.maxPixels) return true;
  if (pixels / input.byteLength > BOMB_PIXELS_PER_BYTE) {
    throw new Error(
      `${width}x${height} declared in ${input.byteLength} bytes: a decompression bomb`,
    );
  }
  return false;
}

/** WebP for the web: small, keeps alpha. Rotated by EXIF first (portrait photos stay portrait). */
async function fitted(
  input: Buffer,
  limits: RenderLimits,
  raw?: { width: number; height: number; channels: 4 },
): Promise<RenderedThumbnail> {
  const { data, info } = await sharp(input, {
    limitInputPixels: limits.maxPixels,
    failOn: 'error',
    ...(raw && { raw }),
  })
    .rotate()
    .resize({ ...BOX, fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80 })
    .toBuffer({ resolveWithObject: true });
  return { bytes: data, type: 'image/webp', ext: 'webp', width: info.width, height: info.height };
}

/**
 * The most pixels a PDF page is rendered into. Pages are rendered at the scale that fits the
 * box, so a real page never comes near it; it refuses, before any canvas is made, what a
 * degenerate page size could still ask for.
 */
const PAGE_PIXEL_BUDGET = BOX.width * BOX.height;

/** The scale that fits a page of `width` x `height` points inside the box. */
export function fittingScale(width: number, height: number): number {
  if (!(width > 0 && height > 0)) throw new Error(`a page of ${width}x${height} points`);
  const scale = Math.min(BOX.width / width, BOX.height / height);
  const pixels = Math.ceil(width * scale) * Math.ceil(height * scale);
  if (pixels > PAGE_PIXEL_BUDGET + BOX.width + BOX.height) {
    throw new Error(`a page of ${width}x${height} points needs ${pixels} pixels`);
  }
  return scale;
}

/** pdf.js's canvas factory in Node (@napi-rs/canvas), which its types leave as `Object`. */
interface CanvasFactory {
  create(width: number, height: number): { canvas: { toBuffer(type: 'image/png'): Buffer } };
}
type PageCanvas = Parameters<PDFPageProxy['render']>[0]['canvas'];

async function pdfPages(
  input: Buffer,
  limits: RenderLimits,
  cancelled: () => boolean,
): Promise<RenderedThumbnail[]> {
  // pdf.js is loaded only for PDFs: it is large and slow to import.
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const assets = path.dirname(require.resolve('pdfjs-dist/package.json'));
  const loading = pdfjs.getDocument({
    data: new Uint8Array(input), // a copy: pdf.js takes over (detaches) the buffer it is given
    standardFontDataUrl: path.join(assets, 'standard_fonts/'),
    cMapUrl: path.join(assets, 'cmaps/'),
    cMapPacked: true,
    // Images inside the PDF get the pixel limit of images.
    maxImageSize: limits.maxPixels,
  });
  const document = await loading.promise;
  const canvases = document.canvasFactory as CanvasFactory;
  try {
    const pages: RenderedThumbnail[] = [];
    for (let number = 1; number <= Math.min(document.numPages, MAX_PDF_PAGES); number++) {
      if (cancelled()) break; // timed out: no more pages in the background
      const page = await document.getPage(number);
      const natural = page.getViewport({ scale: 1 });
      const viewport = page.getViewport({ scale: fittingScale(natural.width, natural.height) });
      const side = (points: number) => Math.max(1, Math.round(points));
      const { canvas } = canvases.create(side(viewport.width), side(viewport.height));
      await page.render({ canvas: canvas as unknown as PageCanvas, viewport }).promise;
      pages.push(await fitted(canvas.toBuffer('image/png'), limits));
      page.cleanup();
    }
    return pages;
  } finally {
    await loading.destroy();
  }
}

/**
 * The demuxers a video preview may use (MP4/MOV/3GP, Matroska/WebM, AVI, MPEG program and
 * transport streams, Ogg, FLV, ASF/WMV): a playlist or a concat script disguised as a video
 * is refused before it names another file, and only local files are read.
 */
const VIDEO_DEMUXERS = 'mov,matroska,avi,mpeg,mpegts,ogg,flv,asf';

/**
 * The distribution's ffmpeg (Debian's, locally as in the thumbnailer's image: a release it
 * still patches). It needs a seekable file: MP4s often keep their index at the end.
 */
async function firstFrame(input: Buffer, limits: RenderLimits): Promise<RenderedThumbnail> {
  const dir = await mkdtemp(path.join(tmpdir(), 'frame-'));
  try {
    const source = path.join(dir, 'video');
    await writeFile(source, input);
    const { stdout } = await promisify(execFile)(
      'ffmpeg',
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-protocol_whitelist',
        'file',
        '-format_whitelist',
        VIDEO_DEMUXERS,
        '-i',
        source,
        '-frames:v',
        '1',
        '-f',
        'image2pipe',
        '-vcodec',
        'png',
        '-',
      ],
      { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, timeout: limits.timeoutMs },
    );
    if (stdout.byteLength === 0) throw new Error('ffmpeg found no video frame');
    return await fitted(stdout, limits);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function withTimeout<T>(work: (cancelled: () => boolean) => Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let expired = false;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      expired = true;
      reject(new Error(`rendering took longer than ${ms} ms`));
    }, ms);
  });
  return Promise.race([work(() => expired), timeout]).finally(() => clearTimeout(timer));
}

/** What the file is, for the previewers this deployment has; undefined: no previewer. */
function previewKind(
  input: Buffer,
  file: { mime: string; name: string },
  limits: RenderLimits,
): PreviewKind | undefined {
  const kind = sniff(input.subarray(0, 128)) ?? kindOf(file.mime, file.name);
  return kind === 'office' && !limits.kinds.office ? undefined : kind;
}

/** The thumbnails of a file of a known kind, rendered in this process. */
export async function renderKind(
  kind: PreviewKind,
  input: Buffer,
  file: { mime: string; name: string },
  limits: RenderLimits,
): Promise<RenderedThumbnail[]> {
  const work = async (cancelled: () => boolean): Promise<RenderedThumbnail[]> => {
    if (kind === 'pdf') return pdfPages(input, limits, cancelled);
    if (kind === 'office') {
      const pdf = await officeToPdf(input, file.name, MAX_PDF_PAGES);
      return pdfPages(pdf, limits, cancelled);
    }
    if (kind === 'video') return [await firstFrame(input, limits)];
    if (kind === 'heif') {
      const { rgba, width, height } = await decodeHeif(input, limits.maxPixels);
      return [await fitted(rgba, limits, { width, height, channels: 4 })];
    }
    return (await checkPixels(input, limits)) ? [await fitted(input, limits)] : [];
  };
  return withTimeout(work, limits.timeoutMs);
}

/**
 * Thumbnails of a file: one for an image or a video (its first frame), one per page for the
 * first 10 pages of a PDF or an office document; undefined when the file is of no previewable
 * kind. Throws when the file is corrupt, hostile or too slow to render. Images stay in this
 * process (sharp reads their size before decoding them); documents and videos are rendered
 * in a child process with a memory bound (child.ts).
 */
export async function renderThumbnails(
  input: Buffer,
  file: { mime: string; name: string },
  limits: RenderLimits,
): Promise<RenderedThumbnail[] | undefined> {
  const kind = previewKind(input, file, limits);
  if (!kind) return undefined;
  const rendered =
    kind === 'image'
      ? await renderKind(kind, input, file, limits)
      : await renderInChild(kind, input, file, limits);
  const [first] = rendered;
  if (first) first.placeholder = await placeholderOf(first.bytes);
  return rendered;
}
