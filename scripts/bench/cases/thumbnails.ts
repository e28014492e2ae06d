/**
 * Thumbnails: the latency `thumbnail_sync=1` adds to an upload of a 12 MP JPEG, and the
 * thumbnailer's memory on 50 MP. Loaded once the environment points at the stack under test.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import sharp from 'sharp';
import { call, filesUrl, multipart } from '../../../tests/helpers/api';
import { fileItem } from '../../../tests/helpers/aws';
import { sendChunks, splitChunks } from '../../../tests/helpers/chunks';
import { bearer } from '../../../tests/helpers/principals';
import {
  type BenchContext,
  type CaseResult,
  type HandlerRun,
  MiB,
  round,
  runHandlerAlone,
  show,
  stats,
  timed,
} from '../common';

/** A photo-like JPEG: smooth gradients plus noise, so it neither compresses away nor bloats. */
async function photo(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  let state = 7;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      const noise = (state >>> 24) & 31;
      const at = (y * width + x) * 3;
      pixels[at] = ((x * 200) / width + noise) & 255;
      pixels[at + 1] = ((y * 200) / height + noise) & 255;
      pixels[at + 2] = (((x + y) * 100) / (width + height) + noise) & 255;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/**
 * A 12 MP JPEG uploaded through the API without and with `thumbnail_sync=1`, next to sharp
 * making the same thumbnail in this process (median of 5): sync <= upload + sharp + 150 ms.
 */
export async function thumbnailSync(ctx: BenchContext): Promise<CaseResult> {
  const ROUNDS = 5;
  const jpeg = await photo(4000, 3000);
  async function upload(sync: boolean) {
    const started = performance.now();
    const response = await call<{
      resource: { id: string; metadata: { thumbnails_status: string } };
    }>(filesUrl(ctx.company, sync ? '?thumbnail_sync=1' : ''), {
      method: 'POST',
      headers: bearer(ctx.token),
      body: multipart(jpeg, 'photo.jpg', 'image/jpeg'),
    });
    const { id, metadata } = response.body.resource;
    return { ms: performance.now() - started, status: metadata.thumbnails_status, id };
  }
  /** The thumbnailer of a plain upload must be done before the next measurement starts. */
  async function idle(fileId: string): Promise<void> {
    for (;;) {
      const read = await call<{ resource: { metadata: { thumbnails_status: string } } }>(
        filesUrl(ctx.company, `/${fileId}`),
        { headers: bearer(ctx.token) },
      );
      if (read.body.resource.metadata.thumbnails_status !== 'waiting') return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const sharpAlone = () =>
    timed(() =>
      sharp(jpeg)
        .rotate()
        .resize({ width: 600, height: 400, fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toBuffer(),
    );

  await upload(true); // warm every function once
  await sharpAlone();
  const plain: number[] = [];
  const synced: number[] = [];
  const alone: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const unsynced = await upload(false);
    plain.push(unsynced.ms);
    await idle(unsynced.id);
    const sync = await upload(true);
    if (sync.status !== 'done') throw new Error(`thumbnail_sync answered ${sync.status}`);
    synced.push(sync.ms);
    alone.push(await sharpAlone());
  }
  const overhead = stats(synced.map((ms, i) => ms - (plain[i] ?? 0) - (alone[i] ?? 0)));
  return {
    case: 'thumbnail, 12 MP JPEG, thumbnail_sync=1',
    service: `upload with sync ${show(stats(synced), 'ms')}, without ${show(stats(plain), 'ms')}`,
    baseline: `sharp alone making the same thumbnail: ${show(stats(alone), 'ms')}`,
    result: `sharp + ${overhead.median} ms (${overhead.min}-${overhead.max})`,
    target: '<= sharp + 150 ms',
    met: overhead.median <= 150,
    figures: {
      rounds: ROUNDS,
      upload_ms: stats(plain),
      upload_sync_ms: stats(synced),
      sharp_alone_ms: stats(alone),
      sync_overhead_ms: overhead,
      target_overhead_ms: 150,
    },
  };
}

/** The thumbnailer's peak memory for a 50 MP image, running alone as Lambda would run it. */
export async function thumbnailMemory(ctx: BenchContext): Promise<CaseResult> {
  const big = await photo(8660, 5774);
  // The stack's own thumbnailer takes the first event; the measured process then runs the
  // same revision again.
  const fileId = await uploadInChunks(ctx, big, 'big.jpg');
  const run = await thumbnailerAlone(ctx, fileId);
  if (run.status !== 'done') throw new Error('the measured thumbnailer did not finish');
  const inputMiB = round(big.length / MiB, 1);
  return {
    case: 'memory: thumbnailing a 50 MP JPEG',
    service: `peak RSS of the makeThumbnails process: ${run.peakRssMiB} MiB (${run.rssAfterLoadMiB} MiB once loaded), ${round(run.seconds, 2)} s`,
    baseline: `file size ${inputMiB} MiB`,
    result: `${run.peakRssMiB} MiB`,
    target: '<= 400 MiB',
    met: run.peakRssMiB <= 400,
    figures: {
      input_mib: inputMiB,
      seconds: round(run.seconds, 2),
      rss_after_load_mib: run.rssAfterLoadMiB,
      peak_rss_mib: run.peakRssMiB,
      target_peak_mib: 400,
    },
  };
}

/** A file larger than one request, uploaded in 4 MiB chunks, 4 at once; its id. */
async function uploadInChunks(ctx: BenchContext, bytes: Buffer, filename: string) {
  const created = await call<{ resource: { id: string } }>(filesUrl(ctx.company), {
    method: 'POST',
    headers: bearer(ctx.token),
  });
  const fileId = created.body.resource.id;
  const chunks = splitChunks(bytes, 4 * MiB);
  await sendChunks(
    { ...ctx, fileId, bytes, chunks, naming: 'twake', filename },
    chunks.map((_, i) => i + 1),
    4,
  );
  return fileId;
}

/**
 * The thumbnailer alone, in a process of its own as Lambda runs it, on a file's current
 * revision: the stack's own thumbnailer takes the first event (waited for here, up to
 * `settleMs`), then the revision's thumbnails are awaited again and the measured process runs.
 */
export async function thumbnailerAlone(
  ctx: BenchContext,
  fileId: string,
  { settleMs = 10_000, children = false } = {},
): Promise<HandlerRun & { status: unknown }> {
  const content = async () => (await fileItem(ctx.company, fileId))?.['content'];
  for (let waited = 0; waited < settleMs; waited += 100) {
    if ((await content())?.thumbnails_status !== 'waiting') break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const revision = (await content())?.revision as string;
  await DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: ctx.stack.dynamodbEndpoint }),
  ).send(
    new UpdateCommand({
      TableName: ctx.stack.filesTable,
      Key: { company_id: ctx.company, id: fileId },
      UpdateExpression:
        'SET content.thumbnails_status = :waiting REMOVE content.thumbnail_lease, content.thumbnail_attempts',
      ExpressionAttributeValues: { ':waiting': 'waiting' },
    }),
  );
  const run = await runHandlerAlone(
    'functions/s3/make-thumbnails.ts',
    {
      Records: [
        {
          eventName: 'ObjectCreated:CompleteMultipartUpload',
          s3: {
            bucket: { name: ctx.stack.bucket },
            object: { key: `files/${ctx.company}/${fileId}/${revision}/data` },
          },
        },
      ],
    },
    ctx.stack.functionEnvironments['makeThumbnails'],
    { children },
  );
  return { ...run, status: (await content())?.thumbnails_status };
}

/**
 * The placeholders of the first thumbnail (ThumbHash and BlurHash, placeholder.ts), in this
 * process, against making that thumbnail from a 12 MP JPEG in the same run: their time per
 * image (downscale included, and the two encodes alone) and their sizes.
 */
export async function placeholders(): Promise<CaseResult> {
  const { renderThumbnails } = await import('../../../lib/thumbnails/render');
  const { placeholderOf } = await import('../../../lib/thumbnails/placeholder');
  const { encode } = await import('blurhash');
  const { rgbaToThumbHash } = await import('thumbhash');
  const jpeg = await photo(4000, 3000);
  const limits = { maxPixels: 100e6, timeoutMs: 60_000, kinds: { office: false } };
  const render = () => renderThumbnails(jpeg, { mime: 'image/jpeg', name: 'photo.jpg' }, limits);
  const [first] = (await render()) ?? [];
  if (!first?.placeholder) throw new Error('the thumbnail came without placeholders');
  const { data, info } = await sharp(first.bytes)
    .resize(32, 32, { fit: 'inside' })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const rgba = new Uint8ClampedArray(data);
  const rounds = 30;
  const thumbnailMs: number[] = [];
  const placeholderMs: number[] = [];
  const encodeMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 3 === 0) thumbnailMs.push(await timed(render)); // 10 rounds: the slow one
    placeholderMs.push(await timed(() => placeholderOf(Buffer.from(first.bytes))));
    encodeMs.push(
      await timed(async () => {
        rgbaToThumbHash(info.width, info.height, rgba);
        encode(rgba, info.width, info.height, 4, 3);
      }),
    );
  }
  const thumbnail = stats(thumbnailMs, 1);
  const placeholder = stats(placeholderMs, 2);
  const encodes = stats(encodeMs, 2);
  const thumbhashBytes = Buffer.from(first.placeholder.thumbhash, 'base64').byteLength;
  const blurhashChars = first.placeholder.blurhash.length;
  const met = placeholder.median < 5 && thumbhashBytes < 40 && blurhashChars < 40;
  return {
    case: 'placeholders of the first thumbnail (12 MP JPEG)',
    service: `${show(placeholder, 'ms')} per image with the 32 px downscale (the encodes alone: ${show(encodes, 'ms')}); ThumbHash ${thumbhashBytes} bytes, BlurHash ${blurhashChars} characters`,
    baseline: `making the thumbnail itself: ${show(thumbnail, 'ms')}`,
    result: `${placeholder.median} ms (${round(placeholder.median / thumbnail.median, 3)}x the thumbnail), ${thumbhashBytes} B + ${blurhashChars} B`,
    target: '< 5 ms per image; < 40 bytes each',
    met,
    figures: {
      placeholder_ms: placeholder,
      encodes_ms: encodes,
      thumbnail_ms: thumbnail,
      thumbhash_bytes: thumbhashBytes,
      blurhash_chars: blurhashChars,
    },
  };
}

/**
 * A 12 MP HEIC (the photo below through heif-enc, as an iPhone would store it) to its
 * thumbnail, against the same photo as a JPEG through sharp, in the same run: each by the
 * thumbnailer alone in a fresh process, with its time and the peak of its process tree (the
 * HEIC is decoded by libheif in wasm, in the renderer child).
 */
export async function heicThumbnail(ctx: BenchContext): Promise<CaseResult> {
  const { heic } = await import('../../../tests/helpers/media');
  const jpeg = await photo(4000, 3000);
  const heicBytes = await heic(jpeg, 80);
  const thumbnailOf = async (bytes: Buffer, filename: string) => {
    const fileId = await uploadInChunks(ctx, bytes, filename);
    const run = await thumbnailerAlone(ctx, fileId, { children: true });
    if (run.status !== 'done')
      throw new Error(`${filename}: the thumbnailer ended ${String(run.status)}`);
    return { seconds: round(run.seconds, 2), peak: run.treePeakRssMiB ?? run.peakRssMiB };
  };
  const fromJpeg = await thumbnailOf(jpeg, 'photo.jpg');
  const fromHeic = await thumbnailOf(heicBytes, 'IMG_0001.HEIC');
  const ratio = round(fromHeic.seconds / fromJpeg.seconds, 2);
  return {
    case: 'HEIC: a 12 MP iPhone-style photo to its thumbnail (libheif in wasm)',
    service: `${fromHeic.seconds} s, peak RSS ${fromHeic.peak} MiB (file ${round(heicBytes.length / MiB, 1)} MiB)`,
    baseline: `the same photo as a JPEG through sharp: ${fromJpeg.seconds} s, peak RSS ${fromJpeg.peak} MiB (file ${round(jpeg.length / MiB, 1)} MiB)`,
    result: `${ratio}x the JPEG's time, ${fromHeic.peak} MiB`,
    target: 'within the 512 MiB renderer bound and the 10 s thumbnail_sync window',
    met: fromHeic.peak <= 512 && fromHeic.seconds < 10,
    figures: {
      heic: fromHeic,
      jpeg: fromJpeg,
      time_ratio: ratio,
      heic_mib: round(heicBytes.length / MiB, 2),
    },
  };
}
