import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** Test media made on the fly (sharp, ffmpeg, a few bytes by hand): the project ships none. */

const gradient = (width: number, height: number, channels: 3 | 4 = 3) => {
  const pixels = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * channels;
      pixels[at] = (x * 255) / width;
      pixels[at + 1] = (y * 255) / height;
      pixels[at + 2] = 128;
      if (channels === 4) pixels[at + 3] = x < width / 2 ? 255 : 64;
    }
  }
  return sharp(pixels, { raw: { width, height, channels } });
};

export const image = {
  png: (width: number, height: number) => gradient(width, height, 4).png().toBuffer(),
  jpeg: (width: number, height: number) => gradient(width, height).jpeg().toBuffer(),
  gif: (width: number, height: number) => gradient(width, height).gif().toBuffer(),
  webp: (width: number, height: number) => gradient(width, height).webp().toBuffer(),
  avif: (width: number, height: number) => gradient(width, height).avif({ effort: 0 }).toBuffer(),
  tiff: (width: number, height: number) => gradient(width, height).tiff().toBuffer(),
  /** Stored landscape, shown portrait: EXIF orientation 6 (rotate 90° clockwise). */
  jpegRotated: (width: number, height: number) =>
    gradient(width, height).jpeg().withMetadata({ orientation: 6 }).toBuffer(),
  /** Random pixels do not compress: a large file from a modest image. */
  noisyPng: (width: number, height: number) => {
    const pixels = Buffer.alloc(width * height * 3);
    let state = 42;
    for (let i = 0; i < pixels.length; i++) {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      pixels[i] = state >>> 16;
    }
    return sharp(pixels, { raw: { width, height, channels: 3 } })
      .png({ compressionLevel: 0 })
      .toBuffer();
  },
  /** AVIF keeping the gradient's alpha (opaque left half, a quarter opaque right half). */
  avifWithAlpha: (width: number, height: number) =>
    gradient(width, height, 4).avif({ effort: 0 }).toBuffer(),
  /** An animated GIF or WebP of three frames: red, green, then blue. */
  animated: (format: 'gif' | 'webp', width: number, height: number) => {
    const frames = [
      [255, 0, 0, 255],
      [0, 255, 0, 255],
      [0, 0, 255, 255],
    ];
    const pixels = Buffer.alloc(width * height * frames.length * 4);
    frames.forEach((colour, frame) => {
      for (let i = 0; i < width * height; i++) pixels.set(colour, (frame * width * height + i) * 4);
    });
    const raw = { width, height: height * frames.length, channels: 4 as const, pageHeight: height };
    const animation = sharp(pixels, { raw });
    const timing = { loop: 0, delay: [100, 100, 100] };
    return (format === 'gif' ? animation.gif(timing) : animation.webp(timing)).toBuffer();
  },
  svg: (width: number, height: number) =>
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
        `<rect width="100%" height="100%" fill="teal"/><circle cx="50%" cy="50%" r="40%" fill="gold"/></svg>`,
    ),
};

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

const IEND = pngChunk('IEND', Buffer.alloc(0));

/**
 * A valid PNG of random pixels that is exactly `size` bytes: noise does not compress, and the
 * rest is a private ancillary chunk (`raNd`: decoders skip it) of random bytes before IEND.
 * Its bytes are as big as a photo's, while its pixels stay cheap to decode.
 */
export async function paddedNoisePng(size: number, width: number, height: number): Promise<Buffer> {
  const png = await sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
  if (!png.subarray(-IEND.length).equals(IEND)) throw new Error('sharp wrote no IEND last');
  const padding = size - png.length - 12; // the chunk's length, type and CRC
  if (padding < 0) throw new Error(`a ${width}x${height} noise PNG is above ${size} bytes`);
  return Buffer.concat([
    png.subarray(0, -IEND.length),
    pngChunk('raNd', randomBytes(padding)),
    IEND,
  ]);
}

/** A decompression bomb: a few hundred bytes declaring a 30000 x 30000 image. */
export function pngBomb(): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(30_000, 0);
  header.writeUInt32BE(30_000, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = deflateSync(Buffer.alloc(30_000 * 3 + 1), { level: 9 });
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', rows),
    IEND,
  ]);
}

/** A one-second test-pattern clip, made by the ffmpeg the thumbnailer uses (Debian's). */
export async function videoClip(width: number, height: number, format = 'mp4'): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'clip-'));
  try {
    const out = path.join(dir, `clip.${format}`);
    await promisify(execFile)('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      `testsrc=size=${width}x${height}:rate=5`,
      '-t',
      '1',
      '-pix_fmt',
      'yuv420p',
      out,
    ]);
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A HEIC (HEVC in HEIF, as iPhones write them) of `image`'s pixels, encoded by `heif-enc`
 * from Debian's libheif-examples (the setup installs it): made here, never downloaded.
 */
export async function heic(source: Buffer, quality = 60): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'heic-'));
  try {
    const input = path.join(dir, 'in.png');
    await sharp(source).png().toFile(input);
    const out = path.join(dir, 'out.heic');
    await promisify(execFile)('heif-enc', ['-q', String(quality), input, '-o', out]);
    return await readFile(out);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The HEIC with an `irot` transformation added to its primary image (HEIF's orientation, which
 * iPhones write; heif-enc does not): `turns` quarter turns anticlockwise. The box is appended
 * to `ipco`, associated with item 1 in `ipma`, the parents' sizes grown and `iloc`'s offsets
 * moved past the grown `meta`.
 */
export function withIrot(file: Buffer, turns: 1 | 2 | 3): Buffer {
  type Box = { type: string; at: number; size: number };
  const children = (buffer: Buffer, from: number, to: number): Box[] => {
    const boxes: Box[] = [];
    for (let at = from; at < to;) {
      const size = buffer.readUInt32BE(at);
      boxes.push({ type: buffer.toString('latin1', at + 4, at + 8), at, size });
      at += size;
    }
    return boxes;
  };
  const find = (boxes: Box[], type: string) => {
    const box = boxes.find((b) => b.type === type);
    if (!box) throw new Error(`no ${type} box`);
    return box;
  };
  const meta = find(children(file, 0, file.length), 'meta');
  const inMeta = children(file, meta.at + 12, meta.at + meta.size); // meta is a full box
  const iprp = find(inMeta, 'iprp');
  const ipco = find(children(file, iprp.at + 8, iprp.at + iprp.size), 'ipco');
  const ipma = find(children(file, iprp.at + 8, iprp.at + iprp.size), 'ipma');
  const iloc = find(inMeta, 'iloc');
  const properties = children(file, ipco.at + 8, ipco.at + ipco.size).length;
  if (file[ipma.at + 8] !== 0 || file.readUInt32BE(ipma.at + 12) !== 1) {
    throw new Error('expected ipma version 0 with one entry');
  }
  const irot = Buffer.from([0, 0, 0, 9, ...Buffer.from('irot'), turns]);
  const ipcoEnd = ipco.at + ipco.size;
  const ipmaEnd = ipma.at + ipma.size;
  const out = Buffer.concat([
    file.subarray(0, ipcoEnd),
    irot,
    file.subarray(ipcoEnd, ipmaEnd),
    Buffer.from([0x80 | (properties + 1)]), // essential, the new property (1-based)
    file.subarray(ipmaEnd),
  ]);
  const grow = (at: number, by: number) => out.writeUInt32BE(out.readUInt32BE(at) + by, at);
  grow(meta.at, 10);
  grow(iprp.at, 10);
  grow(ipco.at, 9);
  grow(ipma.at + 9, 1); // ipma itself, now 9 bytes further
  out[ipma.at + 9 + 18] = out[ipma.at + 9 + 18]! + 1; // item 1's association count
  // iloc (version 0, 4-byte offsets): every item's base offset moves with the data.
  const at = iloc.at;
  if (out[at + 8] !== 0 || out[at + 12] !== 0x44 || out[at + 13] !== 0x40) {
    throw new Error('expected iloc version 0 with 4-byte offsets');
  }
  let item = at + 16;
  for (let n = out.readUInt16BE(at + 14); n > 0; n--) {
    grow(item + 4, 10);
    const extents = out.readUInt16BE(item + 8);
    item += 10 + extents * 8;
  }
  return out;
}
