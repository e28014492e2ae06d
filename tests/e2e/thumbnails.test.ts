import { decode } from 'blurhash';
import sharp from 'sharp';
import { thumbHashToApproximateAspectRatio, thumbHashToAverageRGBA } from 'thumbhash';
import {
  binaryBytes,
  call,
  filesUrl,
  inflatingPdf,
  multipart,
  tinyPdf,
  uploadWithThumbnails,
} from '../helpers/api';
import { objectKeys } from '../helpers/aws';
import { MiB, sendChunks, splitChunks } from '../helpers/chunks';
import { heic, image, pngBomb, videoClip, withIrot } from '../helpers/media';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

type Thumbnail = {
  index: number;
  id: string;
  type: string;
  size: number;
  width: number;
  height: number;
  url: string;
  thumbhash?: string;
  blurhash?: string;
};
type Resource = {
  id: string;
  metadata: { name: string; mime: string; thumbnails_status: string } | null;
  thumbnails: Thumbnail[];
  upload_data: { status: string } | null;
};

const company = newCompanyId();
let token: string;
let app: string;

beforeAll(async () => {
  [token, app] = await Promise.all([
    tokenFor({ company, user: 'tina' }),
    tokenFor({ company, application: 'thumbs-app' }),
  ]);
});

async function uploadSync(bytes: Buffer, name: string, mime: string, as = token, path = '') {
  const response = await uploadWithThumbnails<Resource>(company, as, { bytes, name, mime }, path);
  expect(response.status).toBe(200);
  return response.body.resource;
}

/** Fetches a thumbnail through its signed url, as an `<img>` would: no token. */
async function fetchThumbnail(thumbnail: Thumbnail) {
  const origin = new URL(process.env['TEST_API_URL'] ?? '').origin;
  const redirect = await call(`${origin}${thumbnail.url}`);
  expect(redirect.status).toBe(302);
  const object = await fetch(redirect.headers.get('location') ?? '');
  const bytes = Buffer.from(await object.arrayBuffer());
  return { redirect, object, bytes, meta: await sharp(bytes).metadata() };
}

/** Every thumbnail decodes, has exactly its declared type and size, and fits in 600x400. */
/**
 * The first thumbnail's placeholders, decoded as a client would: under 40 bytes each, the
 * ThumbHash of the thumbnail's aspect, mean colour and alpha, the BlurHash of its colour.
 */
async function expectPlaceholders(thumbnail: Thumbnail, bytes: Buffer) {
  const hash = Buffer.from(thumbnail.thumbhash ?? '', 'base64');
  expect(hash.byteLength).toBeGreaterThan(4);
  expect(hash.byteLength).toBeLessThan(40);
  expect(thumbnail.blurhash?.length).toBe(28);
  const ratio = thumbnail.width / thumbnail.height;
  expect(Math.abs(thumbHashToApproximateAspectRatio(hash) - ratio) / ratio).toBeLessThan(0.25);
  // The thumbnail's own means: straight, and weighted by alpha (as ThumbHash averages colour).
  const rgba = await sharp(bytes).ensureAlpha().raw().toBuffer();
  const straight = [0, 0, 0, 0];
  const weighted = [0, 0, 0];
  for (let i = 0; i < rgba.length; i += 4) {
    for (let c = 0; c < 4; c++) straight[c]! += rgba[i + c]!;
    for (let c = 0; c < 3; c++) weighted[c]! += (rgba[i + c]! * rgba[i + 3]!) / 255;
  }
  const count = rgba.length / 4;
  const alphaSum = straight[3]! / 255;
  const average = thumbHashToAverageRGBA(hash);
  const thumbhashMeans = [average.r, average.g, average.b].map((c) => c * 255);
  thumbhashMeans.forEach((value, c) =>
    expect(Math.abs(value - weighted[c]! / alphaSum)).toBeLessThan(32),
  );
  expect(Math.abs(average.a * 255 - straight[3]! / count)).toBeLessThan(32);
  // BlurHash averages in linear light: so is the mean it is held to.
  const pixels = decode(thumbnail.blurhash!, 16, 16);
  for (let c = 0; c < 3; c++) {
    expect(Math.abs(linearMean(pixels, c) - linearMean(rgba, c))).toBeLessThan(32);
  }
}

/** Channel `c`'s mean in linear light, back in sRGB (0..255). */
function linearMean(rgba: ArrayLike<number>, c: number): number {
  const linear = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const srgb = (v: number) => (v <= 0.0031308 ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055);
  let sum = 0;
  for (let i = c; i < rgba.length; i += 4) sum += linear(rgba[i]! / 255);
  return srgb(sum / (rgba.length / 4)) * 255;
}

async function expectTrueThumbnails(resource: Resource) {
  for (const thumbnail of resource.thumbnails) {
    const { object, bytes, meta } = await fetchThumbnail(thumbnail);
    if (thumbnail.index === 0) await expectPlaceholders(thumbnail, bytes);
    else expect([thumbnail.thumbhash, thumbnail.blurhash]).toEqual([undefined, undefined]);
    expect(object.headers.get('content-type')).toBe(thumbnail.type);
    expect(thumbnail.type).toBe(`image/${meta.format}`);
    expect([meta.width, meta.height]).toEqual([thumbnail.width, thumbnail.height]);
    expect(bytes.length).toBe(thumbnail.size);
    expect(thumbnail.width).toBeLessThanOrEqual(600);
    expect(thumbnail.height).toBeLessThanOrEqual(400);
  }
}

describe('thumbnail_sync=1 replies with the thumbnails', () => {
  test.each([
    ['PNG with alpha', 'a.png', 'image/png', () => image.png(1200, 900), [[533, 400]]],
    ['JPEG, large', 'b.jpg', 'image/jpeg', () => image.jpeg(4000, 3000), [[533, 400]]],
    ['GIF', 'c.gif', 'image/gif', () => image.gif(300, 200), [[300, 200]]],
    ['WebP', 'd.webp', 'image/webp', () => image.webp(1600, 400), [[600, 150]]],
    ['AVIF', 'e.avif', 'image/avif', () => image.avif(800, 800), [[400, 400]]],
    ['TIFF', 'f.tiff', 'image/tiff', () => image.tiff(900, 600), [[600, 400]]],
    ['SVG', 'g.svg', 'image/svg+xml', async () => image.svg(120, 60), [[120, 60]]],
    ['small image, never enlarged', 'h.png', 'image/png', () => image.png(100, 50), [[100, 50]]],
    [
      'JPEG with EXIF orientation 6: portrait',
      'i.jpg',
      'image/jpeg',
      () => image.jpegRotated(900, 600),
      [[267, 400]],
    ],
    [
      'image with a generic type and no extension (sniffed)',
      'photo',
      'application/octet-stream',
      () => image.jpeg(300, 300),
      [[300, 300]],
    ],
    [
      'image named by extension only, upper case',
      'J.PNG',
      'application/octet-stream',
      () => image.png(60, 60),
      [[60, 60]],
    ],
    [
      'PDF of 3 pages',
      'doc.pdf',
      'application/pdf',
      async () => tinyPdf('pages', 3),
      [
        [309, 400],
        [309, 400],
        [309, 400],
      ],
    ],
    // Pages are rendered at the scale that fits the box: at scale 1 this page alone would be
    // an 829 MB canvas.
    [
      'PDF page of 14400 x 14400 pt',
      'poster.pdf',
      'application/pdf',
      async () => tinyPdf('big', 1, [14_400, 14_400]),
      [[400, 400]],
    ],
    [
      'PDF page of A4 landscape',
      'a4.pdf',
      'application/pdf',
      async () => tinyPdf('a4', 1, [842, 595]),
      [[566, 400]],
    ],
    [
      'HEIC, as iPhones write them (libheif in wasm)',
      'IMG_0001.HEIC',
      'image/heic',
      async () => heic(await image.jpeg(1200, 900)),
      [[533, 400]],
    ],
    [
      'HEIC portrait, with a generic type (sniffed by its ftyp brands)',
      'photo',
      'application/octet-stream',
      async () => heic(await image.png(600, 900)),
      [[267, 400]],
    ],
    ['MP4 video, first frame', 'clip.mp4', 'video/mp4', () => videoClip(1920, 1080), [[600, 338]]],
    ['WebM video', 'clip.webm', 'video/webm', () => videoClip(640, 480, 'webm'), [[533, 400]]],
  ])('%s', async (_, name, mime, make, sizes) => {
    const resource = await uploadSync(await make(), name, mime);
    expect(resource.metadata?.thumbnails_status).toBe('done');
    expect(resource.thumbnails.map((t) => [t.width, t.height])).toEqual(sizes);
    expect(resource.thumbnails.map((t) => [t.index, t.id, t.type])).toEqual(
      sizes.map((__, i) => [i, `${i}.webp`, 'image/webp']),
    );
    await expectTrueThumbnails(resource);
  });

  test.each([
    ['a zip', 'a.zip', 'application/zip'],
    ['unknown bytes with a generic type', 'blob.bin', 'application/octet-stream'],
  ])('%s: done with no thumbnails', async (_, name, mime) => {
    const resource = await uploadSync(binaryBytes(5000, 8), name, mime);
    expect(resource.metadata?.thumbnails_status).toBe('done');
    expect(resource.thumbnails).toEqual([]);
  });

  test.each([
    ['a truncated JPEG', async () => (await image.jpeg(1200, 800)).subarray(0, 4000)],
    ['a decompression bomb (30000 x 30000 declared in 200 bytes)', async () => pngBomb()],
    ['random bytes labelled as an image', async () => binaryBytes(3000, 9)],
    // Stopped by the renderer's memory bound (lib/thumbnails/child.ts), in under 2 s here.
    ['a PDF whose 1 MB content stream inflates to 1 GiB', () => inflatingPdf(), 'bomb.pdf'],
  ])('%s: error, the file itself untouched', async (_, make, name = 'bad.png') => {
    const bytes = await make();
    const resource = await uploadSync(
      bytes,
      name,
      name.endsWith('.pdf') ? 'application/pdf' : 'image/png',
    );
    expect(resource.metadata?.thumbnails_status).toBe('error');
    expect(resource.thumbnails).toEqual([]);
    const link = await call<{ url: string }>(
      filesUrl(company, `/${resource.id}/download?redirect=false`),
      {
        headers: bearer(token),
      },
    );
    expect(Buffer.from(await (await fetch(link.body.url)).arrayBuffer())).toEqual(bytes);
  });
});

test("a HEIC's orientation (irot, as iPhones store it) is kept: stored landscape, shown portrait", async () => {
  // Stored 900 x 600, orange on the left and blue on the right, turned a quarter clockwise.
  const [width, height] = [900, 600];
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    pixels.set(i % width < width / 2 ? [240, 140, 20] : [30, 90, 220], i * 3);
  }
  const stored = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  const resource = await uploadSync(withIrot(await heic(stored), 3), 'IMG_0003.HEIC', 'image/heic');
  expect(resource.thumbnails.map((t) => [t.width, t.height])).toEqual([[267, 400]]);
  await expectTrueThumbnails(resource);
  const { bytes } = await fetchThumbnail(resource.thumbnails[0]!);
  const { data, info } = await sharp(bytes)
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const pixel = (y: number) => [
    ...data.subarray((y * info.width + 133) * 3, (y * info.width + 133) * 3 + 3),
  ];
  // The left edge went to the top: orange above, blue below.
  expect(pixel(20)[0]).toBeGreaterThan(200);
  expect(pixel(380)[2]).toBeGreaterThan(180);
});

describe('animated images and AVIF, which sharp decodes', () => {
  test.each(['gif', 'webp'] as const)(
    'an animated %s gets one still thumbnail, of its first frame',
    async (format) => {
      const bytes = await image.animated(format, 120, 80);
      expect((await sharp(bytes, { pages: -1 }).metadata()).pages).toBe(3);
      const resource = await uploadSync(bytes, `moving.${format}`, `image/${format}`);
      expect(resource.thumbnails.map((t) => [t.width, t.height])).toEqual([[120, 80]]);
      await expectTrueThumbnails(resource);
      const { bytes: thumbnail, meta } = await fetchThumbnail(resource.thumbnails[0]!);
      expect(meta.pages ?? 1).toBe(1); // a still image, not the animation
      const { channels } = await sharp(thumbnail).stats();
      // The first frame is red; green and blue came after.
      expect(channels.map((channel) => Math.round(channel.mean))).toEqual([
        expect.closeTo(255, -1),
        expect.closeTo(0, -1),
        expect.closeTo(0, -1),
        ...(channels.length > 3 ? [255] : []),
      ]);
    },
  );

  test('an AVIF with alpha keeps its transparency in the thumbnail', async () => {
    const resource = await uploadSync(
      await image.avifWithAlpha(800, 400),
      'clear.avif',
      'image/avif',
    );
    expect(resource.thumbnails.map((t) => [t.width, t.height])).toEqual([[600, 300]]);
    await expectTrueThumbnails(resource);
    const { bytes, meta } = await fetchThumbnail(resource.thumbnails[0]!);
    expect(meta.hasAlpha).toBe(true);
    const alpha = await sharp(bytes).extractChannel(3).raw().toBuffer({ resolveWithObject: true });
    const { width } = alpha.info;
    const at = (x: number) => alpha.data[150 * width + x]!;
    expect(at(10)).toBeGreaterThan(240); // the opaque half
    expect(at(width - 10)).toBeGreaterThan(40); // the quarter-opaque half (64)
    expect(at(width - 10)).toBeLessThan(90);
    // The ThumbHash keeps that alpha too.
    expect(
      thumbHashToAverageRGBA(Buffer.from(resource.thumbnails[0]!.thumbhash!, 'base64')).a,
    ).toBeLessThan(0.8);
  });
});

test('a multi-chunk image upload gets its thumbnail; chunks that do not complete never wait', async () => {
  const bytes = await image.noisyPng(1500, 1500);
  expect(bytes.length).toBeGreaterThan(4 * MiB);
  const chunks = splitChunks(bytes, 4 * MiB);
  const created = await call<{ resource: Resource }>(filesUrl(company), {
    method: 'POST',
    headers: bearer(token),
  });
  const fileId = created.body.resource.id;
  const query = (n: number) =>
    `?chunk_number=${n}&total_chunks=${chunks.length}&filename=noise.png&type=image/png&thumbnail_sync=1`;
  const send = (n: number) =>
    call<{ resource: Resource }>(filesUrl(company, `/${fileId}${query(n)}`), {
      method: 'POST',
      headers: bearer(token),
      body: multipart(chunks[n - 1] as Buffer, 'blob'),
    });
  const first = await send(1);
  expect(first.body.resource.upload_data?.status).toBe('uploading');
  await sendChunks(
    { company, token, fileId, bytes, chunks, naming: 'twake', filename: 'noise.png' },
    chunks.map((_, i) => i + 1).slice(1, -1),
  );
  const last = await send(chunks.length);
  expect(last.body.resource.metadata?.thumbnails_status).toBe('done');
  expect(last.body.resource.thumbnails.map((t) => [t.width, t.height])).toEqual([[400, 400]]);
});

describe('the thumbnail route', () => {
  let resource: Resource;

  beforeAll(async () => {
    resource = await uploadSync(tinyPdf('two', 2), 'two.pdf', 'application/pdf');
  });

  test('302 to the presigned thumbnail, reusable by the browser while it lives', async () => {
    const { redirect, meta } = await fetchThumbnail(resource.thumbnails[1] as Thumbnail);
    expect(redirect.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
    expect(meta.format).toBe('webp');
  });

  test('redirect=false answers {url, expires_at}; the header works as well as ?token=', async () => {
    const response = await call<{ url: string; expires_at: number }>(
      filesUrl(company, `/${resource.id}/thumbnails/0?redirect=false`),
      { headers: bearer(token) },
    );
    expect(response.status).toBe(200);
    expect(response.body.expires_at).toBeGreaterThan(Date.now());
    expect((await fetch(response.body.url)).headers.get('content-type')).toBe('image/webp');
  });

  test.each(['2', '-1', 'abc', '1.5', '99999'])('index %p: 404', async (index) => {
    const response = await call(filesUrl(company, `/${resource.id}/thumbnails/${index}`), {
      headers: bearer(token),
    });
    expect(response).toMatchObject({ status: 404, body: { statusCode: 404, error: 'Not Found' } });
  });

  test('no token: 401; ?token= on the built path: 302', async () => {
    const built = filesUrl(company, `/${resource.id}/thumbnails/0`);
    expect((await call(built)).status).toBe(401);
    expect((await call(`${built}?token=${token}`)).status).toBe(302);
  });
});

test('an overwrite regenerates thumbnails for the new revision and removes the old ones', async () => {
  const first = await uploadSync(await image.png(800, 400), 'v1.png', 'image/png');
  const [oldThumb] = await objectKeys(`files/${company}/${first.id}/`).then((keys) =>
    keys.filter((key) => key.includes('/thumbnails/')),
  );
  expect(oldThumb).toBeDefined();
  const second = await uploadSync(
    await image.jpeg(300, 600),
    'v2.jpg',
    'image/jpeg',
    app,
    `/${first.id}`,
  );
  expect(second.thumbnails.map((t) => [t.width, t.height])).toEqual([[200, 400]]);
  const keys = await objectKeys(`files/${company}/${first.id}/`);
  expect(keys).not.toContain(oldThumb);
  expect(keys.filter((key) => key.includes('/thumbnails/'))).toHaveLength(1);
  await expectTrueThumbnails(second);

  const removed = await call(filesUrl(company, `/${first.id}`), {
    method: 'DELETE',
    headers: bearer(token),
  });
  expect(removed.status).toBe(200);
  expect(await objectKeys(`files/${company}/${first.id}/`)).toEqual([]);
});
