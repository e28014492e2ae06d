/**
 * Direct uploads (the client's parts straight to S3): their speed against a raw S3 multipart
 * upload, and the Lambda time they cost against the chunk path's. Loaded once the environment
 * points at the stack under test.
 */
import { randomBytes } from 'node:crypto';
import { inParallel } from '../../../lib/parallel';
import { downloadBytes, sha256 } from '../../../tests/helpers/api';
import { chunkQuery, splitChunks } from '../../../tests/helpers/chunks';
import { multipartUrl } from '../../../tests/helpers/direct';
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
  show,
  stats,
  timed,
} from '../common';
import { createEmpty } from './uploads';

const PART_BYTES = 8 * MiB;
const IN_FLIGHT = 4;

const json = (body: unknown) => ({
  bytes: Buffer.from(JSON.stringify(body)),
  contentType: 'application/json',
});

async function replyOf<T>(reply: Promise<{ status: number; body: Buffer }>, what: string) {
  const { status, body } = await reply;
  if (status !== 200) throw new Error(`${what} answered ${status}: ${body.toString()}`);
  return JSON.parse(body.toString()) as T;
}

/**
 * 100 MiB to downloadable through the direct routes, as Uppy sends it (create, then per part
 * a signed URL and a PUT to S3, then complete), next to the SDK's multipart upload of the
 * same bytes with the same part size (8 MiB) and parts in flight (4). Both over node:http
 * with keep-alive, bodies made beforehand.
 */
export async function directUpload(ctx: BenchContext): Promise<CaseResult> {
  const ROUNDS = 5;
  const size = 100 * MiB;
  const bytes = randomBytes(size);
  const parts = splitChunks(bytes, PART_BYTES).map((part) => ({ bytes: part, contentType: '' }));
  const auth = bearer(ctx.token);

  async function throughTheService(): Promise<string> {
    const created = await replyOf<{ key: string; uploadId: string; file_id: string }>(
      request(
        'POST',
        multipartUrl(ctx.company),
        auth,
        json({ filename: 'direct.bin', metadata: { size } }),
      ),
      'create',
    );
    const upload = `/${encodeURIComponent(created.uploadId)}`;
    const key = `?key=${encodeURIComponent(created.key)}`;
    const etags = await inParallel(parts, IN_FLIGHT, async (part, index) => {
      const signed = await replyOf<{ url: string }>(
        request('GET', multipartUrl(ctx.company, `${upload}/${index + 1}${key}`), auth),
        'sign',
      );
      const put = await request('PUT', signed.url, {}, part);
      if (put.status !== 200) throw new Error(`part ${index + 1}: ${put.body.toString()}`);
      return { PartNumber: index + 1, ETag: String(put.headers.etag) };
    });
    await replyOf(
      request(
        'POST',
        multipartUrl(ctx.company, `${upload}/complete${key}`),
        auth,
        json({ parts: etags }),
      ),
      'complete',
    );
    return created.file_id;
  }

  const raw: number[] = [];
  const service: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    raw.push(
      await timed(() =>
        rawMultipartUpload(
          ctx,
          `bench/direct-raw-${i}`,
          parts.map((part) => part.bytes),
          IN_FLIGHT,
        ),
      ),
    );
    let fileId = '';
    service.push(await timed(async () => (fileId = await throughTheService())));
    if (i === 0) {
      const { bytes: copy } = await downloadBytes(ctx.company, fileId, ctx.token);
      if (sha256(copy) !== sha256(bytes)) throw new Error('downloaded bytes differ');
    }
  }
  const throughput = (ms: number[]) =>
    stats(
      ms.map((t) => size / MiB / (t / 1000)),
      1,
    );
  const r = throughput(raw);
  const s = throughput(service);
  const ratio = round(s.median / r.median, 2);
  return {
    case: 'direct upload, 100 MiB in 8 MiB parts, 4 in flight',
    service: `to downloadable through the direct routes (sign, PUT to S3, complete): ${show(s, 'MiB/s')}`,
    baseline: `S3 multipart upload of the same bytes, same parts: ${show(r, 'MiB/s')}`,
    result: `${ratio}x`,
    target: '>= 0.9x',
    met: ratio >= 0.9,
    figures: {
      size_mib: size / MiB,
      rounds: ROUNDS,
      raw_s3_multipart_mib_s: r,
      service_mib_s: s,
      ratio,
      target_ratio: 0.9,
    },
  };
}

/**
 * The Lambda time a user pays per GiB uploaded: every invocation of the upload functions'
 * bundles, called in this process one at a time as Lambda calls them, summed, for 64 MiB
 * (the chunk path assembles that within its last request), in 4 MiB chunks against the
 * direct routes with 8 MiB parts (whose PUTs go to S3 and cost no Lambda time). Also in
 * GB-seconds, at each function's memory (serverless.yml).
 */
export async function lambdaTime(ctx: BenchContext): Promise<CaseResult> {
  const ROUNDS = 3;
  const size = 64 * MiB;
  const perGiB = 1024 ** 3 / size;
  const bytes = randomBytes(size);
  const { httpEvent } = await import('../../../tests/helpers/events');
  const uploadToFile = await inProcess('functions/http/upload-to-file.ts');
  const createDirect = await inProcess('functions/http/create-direct-upload.ts');
  const signPart = await inProcess('functions/http/sign-direct-part.ts');
  const completeDirect = await inProcess('functions/http/complete-direct-upload.ts');
  const memoryGb = { chunks: 1, direct: 0.25 };

  const chunks = splitChunks(bytes, 4 * MiB);
  const bodies = await Promise.all(chunks.map((chunk) => multipartBody(chunk, 'blob')));
  async function chunkPath(): Promise<number> {
    const fileId = await createEmpty(ctx);
    let ms = 0;
    for (const [i, body] of bodies.entries()) {
      const event = httpEvent('upload-to-file', {
        token: ctx.token,
        companyId: ctx.company,
        fileId,
        query: Object.fromEntries(
          new URLSearchParams(chunkQuery('twake', i + 1, chunks.length, size, 'lambda.bin')),
        ),
        body,
      });
      ms += await timed(async () => {
        const result = await uploadToFile(event);
        if (result.statusCode !== 200) throw new Error(`chunk ${i + 1}: ${result.body}`);
      });
    }
    return ms;
  }

  const parts = splitChunks(bytes, PART_BYTES).map((part) => ({ bytes: part, contentType: '' }));
  const steps = { create: [] as number[], sign: [] as number[], complete: [] as number[] };
  async function directPath(): Promise<number> {
    const routed = (name: string, extra: Record<string, string>, body?: object) => {
      const event = httpEvent(name, {
        token: ctx.token,
        companyId: ctx.company,
        ...(body && { body: json(body) }),
      });
      event.pathParameters = { ...event.pathParameters, ...extra };
      return event;
    };
    let created: { key: string; uploadId: string } = { key: '', uploadId: '' };
    const create = await timed(async () => {
      const result = await createDirect(
        routed('create-direct-upload', {}, { filename: 'lambda.bin', metadata: { size } }),
      );
      created = JSON.parse(result.body ?? '{}') as typeof created;
    });
    let signing = 0;
    const etags: { PartNumber: number; ETag: string }[] = [];
    for (const [i, part] of parts.entries()) {
      const event = routed('sign-direct-part', {
        upload_id: created.uploadId,
        part_number: String(i + 1),
      });
      event.queryStringParameters = { key: created.key };
      let url = '';
      signing += await timed(async () => {
        const result = await signPart(event);
        url = (JSON.parse(result.body ?? '{}') as { url: string }).url;
      });
      const put = await request('PUT', url, {}, part); // to S3: no Lambda time
      etags.push({ PartNumber: i + 1, ETag: String(put.headers.etag) });
    }
    const event = routed(
      'complete-direct-upload',
      { upload_id: created.uploadId },
      {
        parts: etags,
      },
    );
    event.queryStringParameters = { key: created.key };
    const completion = await timed(async () => {
      const result = await completeDirect(event);
      if (result.statusCode !== 200) throw new Error(`complete: ${result.body}`);
    });
    steps.create.push(create);
    steps.sign.push(signing / parts.length);
    steps.complete.push(completion);
    return create + signing + completion;
  }

  await chunkPath(); // warm both
  await directPath();
  const chunked: number[] = [];
  const direct: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    chunked.push((await chunkPath()) * perGiB);
    direct.push((await directPath()) * perGiB);
  }
  const c = stats(chunked);
  const d = stats(direct);
  const ratio = round(d.median / c.median, 3);
  // What Lambda bills: duration times memory (serverless.yml: 1024 MB for the chunk route,
  // 256 MB for the direct routes, which only sign and check).
  const gbSeconds = (ms: number, gb: number) => round((ms / 1000) * gb, 1);
  const costRatio = round((d.median * memoryGb.direct) / (c.median * memoryGb.chunks), 3);
  const step = (values: number[]) => round(stats(values).median);
  return {
    case: 'Lambda cost per GiB uploaded, direct path against the chunk path (64 MiB, in process)',
    service: `direct routes: ${show(d, 'ms')} per GiB (create ${step(steps.create)} ms, ${step(steps.sign)} ms per 8 MiB part signed, complete ${step(steps.complete)} ms), ${gbSeconds(d.median, memoryGb.direct)} GB-s at 256 MB`,
    baseline: `chunk path, a request per 4 MiB (the last assembles): ${show(c, 'ms')} per GiB, ${gbSeconds(c.median, memoryGb.chunks)} GB-s at 1024 MB`,
    result: `${costRatio}x in GB-s (${ratio}x in time)`,
    target: '<= 0.1x in GB-s',
    met: costRatio <= 0.1,
    figures: {
      size_mib: size / MiB,
      rounds: ROUNDS,
      chunk_path_ms_per_gib: c,
      direct_path_ms_per_gib: d,
      direct_steps_ms: {
        create: step(steps.create),
        sign_per_part: step(steps.sign),
        complete: step(steps.complete),
      },
      time_ratio: ratio,
      gb_seconds_ratio: costRatio,
      target_gb_seconds_ratio: 0.1,
    },
  };
}
