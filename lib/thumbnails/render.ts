import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { kindOf, sniff, type PreviewKind } from './kinds';

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
}

export interface RenderLimits {
  /** Images above this are not previewed; far above their file size, they are bombs. */
  maxPixels: number;
  timeoutMs: number;
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
async function fitted(input: Buffer, limits: RenderLimits): Promise<RenderedThumbnail> {
  const { data, info } = await sharp(input, { limitInputPixels: limits.maxPixels, failOn: 'error' })
    .rotate()
    .resize({ ...BOX, fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 80 })
    .toBuffer({ resolveWithObject: true });
  return { bytes: data, type: 'image/webp', ext: 'webp', width: info.width, height: info.height };
}

async function pdfPages(
  input: Buffer,
  limits: RenderLimits,
  cancelled: () => boolean,
): Promise<RenderedThumbnail[]> {
  // pdf.js is loaded only for PDFs: it is large and slow to import. Scale 1 renders a Letter
  // or A4 page at about twice the box's height, enough for a sharp thumbnail.
  const { pdf } = await import('pdf-to-img');
  const document = await pdf(input, { scale: 1 });
  try {
    const pages: RenderedThumbnail[] = [];
    for (let number = 1; number <= Math.min(document.length, MAX_PDF_PAGES); number++) {
      if (cancelled()) break; // timed out: no more pages in the background
      pages.push(await fitted(await document.getPage(number), limits));
    }
    return pages;
  } finally {
    await document.destroy();
  }
}

/** ffmpeg needs a seekable file: MP4s often keep their index at the end. */
async function firstFrame(input: Buffer, limits: RenderLimits): Promise<RenderedThumbnail> {
  const { path: ffmpeg } = (await import('@ffmpeg-installer/ffmpeg')) as { path: string };
  const dir = await mkdtemp(path.join(tmpdir(), 'frame-'));
  try {
    const source = path.join(dir, 'video');
    await writeFile(source, input);
    const { stdout } = await promisify(execFile)(
      ffmpeg,
      // Local files only: a playlist disguised as a video may not reach the network or disk.
      [
        '-hide_banner',
        '-nostdin',
        '-loglevel',
        'error',
        '-protocol_whitelist',
        'file',
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

/**
 * Thumbnails of a file: one for an image or a video (its first frame), one per page for the
 * first 10 pages of a PDF; undefined when the file is of no previewable kind. Throws when
 * the file is corrupt, hostile or too slow to render.
 */
export async function renderThumbnails(
  input: Buffer,
  file: { mime: string; name: string },
  limits: RenderLimits,
): Promise<RenderedThumbnail[] | undefined> {
  const kind: PreviewKind | undefined =
    sniff(input.subarray(0, 64)) ?? kindOf(file.mime, file.name);
  if (!kind) return undefined;
  const work = async (cancelled: () => boolean): Promise<RenderedThumbnail[]> => {
    if (kind === 'pdf') return pdfPages(input, limits, cancelled);
    if (kind === 'video') return [await firstFrame(input, limits)];
    return (await checkPixels(input, limits)) ? [await fitted(input, limits)] : [];
  };
  return withTimeout(work, limits.timeoutMs);
}
