/**
 * Uploads: one 4 MiB request, a 100 MiB chunked upload, and the assembler's memory. Loaded once
 * the environment points at the stack under test.
 */
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { inParallel } from '../../../lib/parallel';
import { call, downloadBytes, filesUrl, multipart, sha256 } from '../../../tests/helpers/api';
import { chunkQuery, sendChunks, splitChunks } from '../../../tests/helpers/chunks';
import { bearer } from '../../../tests/helpers/principals';
import {
  type BenchContext,
  type CaseResult,
  MiB,
  inProcess,
  multipartBody,
  rawMultipartUpload,
  request,
  round,
  runHandlerAlone,
  show,
  stats,
  timed,
} from '../common';

export async function createEmpty(ctx: BenchContext): Promise<string> {
  const created = await call<{ resource: { id: string } }>(filesUrl(ctx.company), {
    method: 'POST',
    headers: bearer(ctx.token),
  });
  return created.body.resource.id;
}

async function untilComplete(ctx: BenchContext, fileId: string): Promise<void> {
  for (;;) {
    const read = await call<{ resource: { upload_data: { status: string } } }>(
      filesUrl(ctx.company, `/${fileId}`),
      { headers: bearer(ctx.token) },
    );
    if (read.body.resource.upload_data.status === 'complete') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * One request of 4 MiB to a stored record, next to PutObject of the same bytes: the create
 * function's bundle called in this process as Lambda calls it, on an event built beforehand
 * (the target: what the function adds to the write), and, for reference, the POST through the
 * offline API (which adds the HTTP emulation's own base64 round trips).
 */
export async function singleUpload(ctx: BenchContext): Promise<CaseResult> {
  const ROUNDS = 15;
  const bytes = randomBytes(4 * MiB);
  const body = await multipartBody(bytes, 'single.bin');
  const post = async () => {
    const response = await request('POST', filesUrl(ctx.company), bearer(ctx.token), body);
    if (response.status !== 200) throw new Error(`upload answered ${response.status}`);
  };
  const { httpEvent } = await import('../../../tests/helpers/events');
  const createFile = await inProcess('functions/http/create-file.ts');
  const event = httpEvent('create-file', { token: ctx.token, companyId: ctx.company, body });
  const direct = async () => {
    const result = await createFile(structuredClone(event));
    if (result.statusCode !== 200) throw new Error(`create answered ${result.statusCode}`);
  };
  const put = (key: string) =>
    ctx.s3.send(new PutObjectCommand({ Bucket: ctx.stack.bucket, Key: key, Body: bytes }));
  await post(); // warm the offline function
  await direct(); // and the one in this process
  await put('bench/single-warm');
  const viaApi: number[] = [];
  const function_: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    baseline.push(await timed(() => put(`bench/single-${i}`)));
    function_.push(await timed(direct));
    viaApi.push(await timed(post));
  }
  const f = stats(function_, 1);
  const a = stats(viaApi, 1);
  const b = stats(baseline, 1);
  const ratio = round(f.median / b.median, 2);
  return {
    case: 'single upload, 4 MiB',
    service: `the create function in-process to stored record: ${show(f, 'ms')}; through the offline API: ${show(a, 'ms')} (${round(a.median / b.median, 2)}x)`,
    baseline: `PutObject of the same bytes: ${show(b, 'ms')}`,
    result: `${ratio}x`,
    target: '<= 1.3x (in-process)',
    met: ratio <= 1.3,
    figures: {
      rounds: ROUNDS,
      function_ms: f,
      api_ms: a,
      put_object_ms: b,
      ratio,
      api_ratio: round(a.median / b.median, 2),
      target_ratio: 1.3,
    },
  };
}

/**
 * 100 MiB in 4 MiB chunks, 4 in flight, until downloadable, next to an S3 multipart upload of
 * the same bytes (8 MiB parts, 4 in flight). Both clients send bodies made beforehand over
 * node:http. Also, as a diagnostic, the same chunks handed to the upload function directly in
 * this process (API Gateway's part, the event, prepared beforehand), to tell the function's
 * own cost from the HTTP emulation's.
 */
export async function chunkedUpload(ctx: BenchContext): Promise<CaseResult> {
  const ROUNDS = 5;
  const size = 100 * MiB;
  const bytes = randomBytes(size);
  const chunks = splitChunks(bytes, 4 * MiB);
  const bodies = await Promise.all(chunks.map((chunk) => multipartBody(chunk, 'blob')));
  const queryOf = (i: number) => chunkQuery('twake', i + 1, chunks.length, size, 'bench.bin');

  const rawParts = splitChunks(bytes, 8 * MiB);
  const throughTheApi = (fileId: string) =>
    inParallel(bodies, 4, async (body, i) => {
      const url = filesUrl(ctx.company, `/${fileId}?${queryOf(i)}`);
      const response = await request('POST', url, bearer(ctx.token), body);
      if (response.status !== 200) throw new Error(`chunk ${i + 1}: ${response.body}`);
    });

  // The upload function's bundle, called as Lambda calls it, on events built beforehand.
  const { httpEvent } = await import('../../../tests/helpers/events');
  const uploadToFile = await inProcess('functions/http/upload-to-file.ts');
  const directEvents = (fileId: string) =>
    bodies.map((body, i) =>
      httpEvent('upload-to-file', {
        token: ctx.token,
        companyId: ctx.company,
        fileId,
        query: Object.fromEntries(new URLSearchParams(queryOf(i))),
        body,
      }),
    );

  const raw: number[] = [];
  const service: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    raw.push(await timed(() => rawMultipartUpload(ctx, `bench/raw-${i}`, rawParts, 4)));

    const fileId = await createEmpty(ctx);
    service.push(
      await timed(async () => {
        await throughTheApi(fileId);
        await untilComplete(ctx, fileId);
      }),
    );
    if (i === 0) {
      const { bytes: copy } = await downloadBytes(ctx.company, fileId, ctx.token);
      if (sha256(copy) !== sha256(bytes)) throw new Error('downloaded bytes differ');
    }

    const directId = await createEmpty(ctx);
    const events = directEvents(directId);
    direct.push(
      await timed(async () => {
        await inParallel(events, 4, async (event) => {
          const result = await uploadToFile(event);
          if (result.statusCode !== 200) throw new Error(`direct chunk: ${result.body}`);
        });
        await untilComplete(ctx, directId);
      }),
    );
  }
  const throughput = (ms: number[]) =>
    stats(
      ms.map((t) => size / MiB / (t / 1000)),
      1,
    );
  const r = throughput(raw);
  const s = throughput(service);
  const d = throughput(direct);
  const ratio = round(s.median / r.median, 2);
  return {
    case: 'chunked upload, 100 MiB in 4 MiB chunks, 4 in flight',
    service: `to downloadable through the API: ${show(s, 'MiB/s')}; the upload function called directly: ${show(d, 'MiB/s')} (${round(d.median / r.median, 2)}x)`,
    baseline: `S3 multipart upload of the same bytes: ${show(r, 'MiB/s')}`,
    result: `${ratio}x`,
    // A floor: the direct-to-S3 path is the fast one for big files; this one must not regress.
    target: '>= 0.45x',
    met: ratio >= 0.45,
    figures: {
      size_mib: size / MiB,
      rounds: ROUNDS,
      raw_s3_multipart_mib_s: r,
      service_mib_s: s,
      direct_handler_mib_s: d,
      ratio,
      direct_ratio: round(d.median / r.median, 2),
      target_ratio: 0.45,
    },
  };
}

/**
 * The assembler's peak memory on 200 MiB, in the worst case: nothing uploaded ahead, every
 * byte streamed again. 1 MiB chunks with the last one first and no total_size: the upload
 * expects 4 MiB chunks, and pairs of 1 MiB make no S3 part. Every chunk goes through the API
 * but the one that completes, whose request hands the job to an assembler process of its own.
 */
export async function assemblyMemory(ctx: BenchContext): Promise<CaseResult> {
  const size = 200 * MiB;
  const big = randomBytes(size);
  const chunks = splitChunks(big, MiB);
  const total = chunks.length;
  const fileId = await createEmpty(ctx);
  const send = (n: number) =>
    call(filesUrl(ctx.company, `/${fileId}?chunk_number=${n}&total_chunks=${total}`), {
      method: 'POST',
      headers: bearer(ctx.token),
      body: multipart(chunks[n - 1] as Buffer, 'blob'),
    });
  await send(total);
  const upload = {
    company: ctx.company,
    token: ctx.token,
    fileId,
    bytes: big,
    chunks,
    naming: 'twake' as const,
    filename: 'big.bin',
  };
  await sendChunks(upload, chunks.map((_, i) => i + 1).slice(0, -2), 4);

  const { services } = await import('../../../lib/services/full');
  const { uploadToFile } = await import('../../../lib/domain/files');
  const jobs: unknown[] = [];
  const handOff = {
    ...services,
    assemblies: { enqueue: async (job: unknown) => void jobs.push(job) },
  };
  handOff.limits = { ...services.limits, syncAssemblyMaxBytes: 0 };
  await uploadToFile(handOff, {
    principal: { kind: 'user', userId: 'bench' },
    companyId: ctx.company,
    fileId,
    params: { chunkNumber: total - 1, totalChunks: total, thumbnailSync: false },
    data: { bytes: chunks[total - 2] as Buffer },
    budgetMs: 29_000,
    links: { kind: 'signed', key: Buffer.alloc(32), ttlSeconds: 3600 },
  });
  if (jobs.length !== 1) throw new Error('the completing request did not hand off an assembly');
  // The handler as Lambda runs it, in a process of its own.
  const run = await runHandlerAlone(
    'functions/async/assemble-upload.ts',
    jobs[0],
    ctx.stack.functionEnvironments['assembleUpload'],
  );
  await untilComplete(ctx, fileId);
  const { bytes: copy } = await downloadBytes(ctx.company, fileId, ctx.token);
  if (sha256(copy) !== sha256(big)) throw new Error('assembled bytes differ');

  return {
    case: 'memory: assembling 200 MiB (nothing uploaded ahead)',
    service: `peak RSS of the assembleUpload process: ${run.peakRssMiB} MiB (${run.rssAfterLoadMiB} MiB once loaded), ${round(run.seconds, 2)} s`,
    baseline: `file size ${size / MiB} MiB`,
    result: `${run.peakRssMiB} MiB`,
    target: '<= 128 MiB',
    met: run.peakRssMiB <= 128,
    figures: {
      size_mib: size / MiB,
      seconds: round(run.seconds, 2),
      rss_after_load_mib: run.rssAfterLoadMiB,
      peak_rss_mib: run.peakRssMiB,
      target_peak_mib: 128,
    },
  };
}
