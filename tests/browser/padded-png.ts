import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

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
