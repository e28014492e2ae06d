/**
 * npm run bench:thumbnails — what thumbnails cost, on a local stack of its own:
 *
 * 1. A 12-megapixel JPEG uploaded through the API without and with `thumbnail_sync=1`, next
 *    to sharp making the same thumbnail in this process, in the same run (median of 5, with
 *    min and max): the target is sync <= upload + sharp + 150 ms.
 * 2. The thumbnailer's peak memory for a 50-megapixel image, in a process of its own running
 *    the bundled makeThumbnails handler as Lambda would.
 *
 * Figures go to stdout as a Markdown table and to bench/results/thumbnails.json.
 */
import sharp from 'sharp';
import { startLocalStack, stackEnvironment, stopLocalStack } from '../local/stack-process';
import { report, round, runHandlerAlone, stats } from './common';

const ROUNDS = 5;

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

async function main(): Promise<void> {
  const stack = await startLocalStack();
  try {
    Object.assign(process.env, stackEnvironment(stack.info, stack.dataDir));
    const { call, filesUrl, multipart } = await import('../../tests/helpers/api');
    const { bearer, tokenFor } = await import('../../tests/helpers/principals');
    const company = 'bench';
    const token = await tokenFor({ company, user: 'bench' });
    const jpeg = await photo(4000, 3000);

    async function upload(sync: boolean): Promise<{ ms: number; status: string; id: string }> {
      const started = performance.now();
      const response = await call<{
        resource: { id: string; metadata: { thumbnails_status: string } };
      }>(filesUrl(company, sync ? '?thumbnail_sync=1' : ''), {
        method: 'POST',
        headers: bearer(token),
        body: multipart(jpeg, 'photo.jpg', 'image/jpeg'),
      });
      const { id, metadata } = response.body.resource;
      return { ms: performance.now() - started, status: metadata.thumbnails_status, id };
    }
    /** The thumbnailer of a plain upload must be done before the next measurement starts. */
    async function idle(fileId: string): Promise<void> {
      for (;;) {
        const read = await call<{ resource: { metadata: { thumbnails_status: string } } }>(
          filesUrl(company, `/${fileId}`),
          { headers: bearer(token) },
        );
        if (read.body.resource.metadata.thumbnails_status !== 'waiting') return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    async function sharpAlone(): Promise<number> {
      const started = performance.now();
      await sharp(jpeg)
        .rotate()
        .resize({ width: 600, height: 400, fit: 'inside', withoutEnlargement: true })
        .webp({ quality: 80 })
        .toBuffer();
      return performance.now() - started;
    }

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

    // 2. Peak memory of the thumbnailer on a 50 MP image, in its own process.
    const big = await photo(8660, 5774);
    const created = await call<{ resource: { id: string } }>(filesUrl(company), {
      method: 'POST',
      headers: bearer(token),
    });
    const fileId = created.body.resource.id;
    // Uploaded in chunks (it is larger than one request): the stack's own thumbnailer takes
    // the first event; the separate process then runs a duplicate-free second revision.
    const { sendChunks, splitChunks } = await import('../../tests/helpers/chunks');
    const chunks = splitChunks(big, 4 * 1024 * 1024);
    await sendChunks(
      { company, token, fileId, bytes: big, chunks, naming: 'twake', filename: 'big.jpg' },
      chunks.map((_, i) => i + 1),
      4,
    );
    const { fileItem } = await import('../../tests/helpers/aws');
    const item = await fileItem(company, fileId);
    const revision = item?.['content']?.revision as string;
    // Hand the revision to the measured process: mark its thumbnails awaited again.
    const { DynamoDBClient } = await import('@aws-sdk/client-dynamodb');
    const { DynamoDBDocumentClient, UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    for (let i = 0; i < 100; i++) {
      if ((await fileItem(company, fileId))?.['content']?.thumbnails_status !== 'waiting') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: stack.info.dynamodbEndpoint }),
    ).send(
      new UpdateCommand({
        TableName: stack.info.filesTable,
        Key: { company_id: company, id: fileId },
        UpdateExpression:
          'SET content.thumbnails_status = :waiting REMOVE content.thumbnail_lease, content.thumbnail_attempts',
        ExpressionAttributeValues: { ':waiting': 'waiting' },
      }),
    );
    const memory = await runHandlerAlone('functions/s3/make-thumbnails.ts', {
      Records: [
        {
          eventName: 'ObjectCreated:CompleteMultipartUpload',
          s3: {
            bucket: { name: stack.info.bucket },
            object: { key: `files/${company}/${fileId}/${revision}/data` },
          },
        },
      ],
    });
    const after = await fileItem(company, fileId);
    if (after?.['content']?.thumbnails_status !== 'done')
      throw new Error('the measured run did not finish');

    const sync = {
      rounds: ROUNDS,
      upload_ms: stats(plain),
      upload_sync_ms: stats(synced),
      sharp_alone_ms: stats(alone),
      sync_overhead_ms: overhead,
      target_overhead_ms: 150,
    };
    const inputMib = round(big.length / 1024 / 1024, 1);
    const show = (s: { median: number; min: number; max: number }) =>
      `${s.median} ms (${s.min}-${s.max})`;
    await report(
      'thumbnails',
      [
        '| case | baseline (same run) | service | figure | target |',
        '|---|---|---|---|---|',
        `| 12 MP JPEG, thumbnail_sync=1 | upload without sync ${show(sync.upload_ms)}; sharp alone ${show(sync.sharp_alone_ms)} | upload with sync ${show(sync.upload_sync_ms)} | sync - upload - sharp = ${show(overhead)} | <= 150 ms |`,
        `| thumbnailer on a 50 MP JPEG (${inputMib} MiB) in its own process | ${memory.rssAfterLoadMiB} MiB after loading the handler | peak RSS ${memory.peakRssMiB} MiB in ${round(memory.seconds, 2)} s | | <= 400 MiB |`,
      ],
      {
        thumbnail_12mp: sync,
        thumbnailer_memory_50mp: {
          input_mib: inputMib,
          seconds: round(memory.seconds, 2),
          rss_after_load_mib: memory.rssAfterLoadMiB,
          peak_rss_mib: memory.peakRssMiB,
          target_peak_mib: 400,
        },
      },
    );
  } finally {
    await stopLocalStack(stack);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
