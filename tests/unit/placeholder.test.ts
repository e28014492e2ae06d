import { performance } from 'node:perf_hooks';
import { decode } from 'blurhash';
import sharp from 'sharp';
import {
  thumbHashToApproximateAspectRatio,
  thumbHashToAverageRGBA,
  thumbHashToRGBA,
} from 'thumbhash';
import { placeholderOf } from '../../lib/thumbnails/placeholder';

/**
 * The placeholders on a first thumbnail, decoded back as a client would (the libraries'
 * decoders): each must resemble the thumbnail it stands for, in mean colour and in aspect,
 * and keep its transparency; and each stays under 40 bytes.
 */

/** A thumbnail as the renderer makes them: WebP, here orange on the left, blue on the right. */
async function thumbnail(width: number, height: number, alpha = 255) {
  const pixels = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 4;
      const left = x < width / 2;
      pixels.set(left ? [240, 140, 20, alpha] : [30, 90, 220, alpha], at);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 4 } })
    .webp({ quality: 80, alphaQuality: 100 })
    .toBuffer();
}

/** The mean of each channel, 0..255, of RGBA pixels. */
function mean(rgba: ArrayLike<number>): number[] {
  const sums = [0, 0, 0, 0];
  for (let i = 0; i < rgba.length; i++) sums[i % 4]! += rgba[i]!;
  return sums.map((sum) => sum / (rgba.length / 4));
}

const expected = [(240 + 30) / 2, (140 + 90) / 2, (20 + 220) / 2];

test.each([
  ['landscape', 600, 400],
  ['portrait', 300, 400],
  ['square', 400, 400],
])('a %s thumbnail: both decode to its mean colour and aspect', async (_shape, width, height) => {
  const { thumbhash, blurhash } = await placeholderOf(await thumbnail(width, height));
  const hash = Buffer.from(thumbhash, 'base64');
  expect(hash.byteLength).toBeLessThan(40);
  expect(blurhash.length).toBeLessThan(40);

  // (ThumbHash stores the aspect in its component counts: approximately.)
  expect(Math.abs(thumbHashToApproximateAspectRatio(hash) - width / height)).toBeLessThan(0.15);
  const average = thumbHashToAverageRGBA(hash);
  const [r, g, b] = [average.r, average.g, average.b].map((channel) => channel * 255);
  for (const [got, want] of [r, g, b].map((value, i) => [value!, expected[i]!])) {
    expect(Math.abs(got! - want!)).toBeLessThan(26); // of 255: a tenth
  }
  const image = thumbHashToRGBA(hash);
  expect(image.w / image.h).toBeCloseTo(width / height, 0);
  // Left half orange, right half blue: the decoded image keeps the split, not only the mean.
  const at = (x: number) => (Math.floor(image.h / 2) * image.w + x) * 4;
  expect(image.rgba[at(1)]!).toBeGreaterThan(image.rgba[at(image.w - 2)]!);

  // BlurHash has no aspect of its own (clients paint it in the thumbnail's box, whose size the
  // resource gives): decoded at that shape, it has the same mean colour and the same split.
  const w = 32;
  const h = Math.round((32 * height) / width);
  const pixels = decode(blurhash, w, h);
  const [br, bg, bb] = mean(pixels);
  for (const [got, want] of [br, bg, bb].map((value, i) => [value!, expected[i]!])) {
    expect(Math.abs(got! - want!)).toBeLessThan(26); // of 255: a tenth
  }
  const middle = (x: number) => (Math.floor(h / 2) * w + x) * 4;
  expect(pixels[middle(1)]!).toBeGreaterThan(pixels[middle(w - 2)]!);
});

test('a half-transparent thumbnail keeps its alpha in the ThumbHash', async () => {
  const { thumbhash } = await placeholderOf(await thumbnail(600, 400, 128));
  const average = thumbHashToAverageRGBA(Buffer.from(thumbhash, 'base64'));
  expect(average.a).toBeGreaterThan(0.35);
  expect(average.a).toBeLessThan(0.65);
  // An opaque one decodes opaque.
  const opaque = await placeholderOf(await thumbnail(600, 400));
  expect(thumbHashToAverageRGBA(Buffer.from(opaque.thumbhash, 'base64')).a).toBe(1);
});

test('a tiny thumbnail is not enlarged to encode it', async () => {
  const { thumbhash, blurhash } = await placeholderOf(await thumbnail(8, 4));
  expect(thumbHashToApproximateAspectRatio(Buffer.from(thumbhash, 'base64'))).toBeCloseTo(2, 0);
  expect(blurhash).toHaveLength(28);
});

test('the time per thumbnail is printed (the bench measures it)', async () => {
  const input = await thumbnail(600, 400);
  await placeholderOf(input); // warm
  const started = performance.now();
  for (let i = 0; i < 20; i++) await placeholderOf(input);
  console.log(
    `placeholders: ${((performance.now() - started) / 20).toFixed(2)} ms per thumbnail, ` +
      'its downscale included',
  );
});
