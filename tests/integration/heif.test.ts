import { config } from '../../lib/config';
import { renderThumbnails } from '../../lib/thumbnails/render';
import { heic, image } from '../helpers/media';

/**
 * HEIC through the thumbnailer's renderer, bounded as every renderer is: the size the file's
 * boxes declare is held to the pixel budget before any pixel is decoded, and a damaged file is
 * an error, never a crash (the decode runs in the renderer child).
 */

const limits = () => ({
  maxPixels: config.thumbnailMaxPixels,
  timeoutMs: config.thumbnailTimeoutSeconds * 1000,
  kinds: { office: false },
});
const file = { mime: 'image/heic', name: 'IMG_0002.HEIC' };

/** The `ispe` property (image spatial extents) rewritten: what a bomb would declare. */
function declaring(bytes: Buffer, width: number, height: number): Buffer {
  const patched = Buffer.from(bytes);
  const at = patched.indexOf('ispe', 0, 'latin1');
  expect(at).toBeGreaterThan(0);
  patched.writeUInt32BE(width, at + 8); // after the type and the version and flags
  patched.writeUInt32BE(height, at + 12);
  return patched;
}

test('a HEIC declaring 40000 x 40000 is refused from its header, before decoding', async () => {
  const bomb = declaring(await heic(await image.jpeg(640, 480)), 40_000, 40_000);
  const started = Date.now();
  await expect(renderThumbnails(bomb, file, limits())).rejects.toThrow(
    `40000x40000 HEIF image: above the ${config.thumbnailMaxPixels}-pixel budget`,
  );
  console.log(`HEIC bomb (40000 x 40000 declared): refused in ${Date.now() - started} ms`);
});

test('a truncated HEIC is an error, not a crash', async () => {
  const whole = await heic(await image.jpeg(640, 480));
  await expect(
    renderThumbnails(whole.subarray(0, Math.floor(whole.length / 2)), file, limits()),
  ).rejects.toThrow();
});

test('a HEIC within the budget renders, its placeholders with it', async () => {
  const [thumbnail, ...more] =
    (await renderThumbnails(await heic(await image.png(800, 600)), file, limits())) ?? [];
  expect(more).toEqual([]);
  expect(thumbnail).toMatchObject({ type: 'image/webp', width: 533, height: 400 });
  expect(thumbnail?.placeholder?.blurhash).toHaveLength(28);
});
