import { encode } from 'blurhash';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';

/**
 * The downscale both are encoded from. ThumbHash keeps at most 7 components a side and
 * BlurHash 4 here: 32 pixels a side carry them (ThumbHash takes up to 100), and keep each
 * encode near a millisecond.
 */
const SAMPLE = 32;

export interface Placeholder {
  /** ThumbHash (base64): aspect ratio and alpha kept, about 25 bytes. */
  thumbhash: string;
  /** BlurHash: 4 components along the long side and 3 along the short, 28 characters. */
  blurhash: string;
}

/**
 * What a client paints before the thumbnail arrives, from a downscale of the thumbnail
 * itself: one made here (at most 600x400), never the untrusted file.
 */
export async function placeholderOf(thumbnail: Buffer): Promise<Placeholder> {
  const { data, info } = await sharp(thumbnail)
    .resize(SAMPLE, SAMPLE, { fit: 'inside', withoutEnlargement: true })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rgba = new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength);
  const landscape = info.width >= info.height;
  return {
    thumbhash: Buffer.from(rgbaToThumbHash(info.width, info.height, rgba)).toString('base64'),
    blurhash: encode(rgba, info.width, info.height, landscape ? 4 : 3, landscape ? 3 : 4),
  };
}
