/**
 * Reads: metadata under concurrency, and a 4 MiB download. Loaded once the environment points
 * at the stack under test.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import autocannon from 'autocannon';
import { API, call, filesUrl, multipart } from '../../../tests/helpers/api';
import { fileItem } from '../../../tests/helpers/aws';
import { bearer } from '../../../tests/helpers/principals';
import {
  type BenchContext,
  type CaseResult,
  MiB,
  request,
  round,
  show,
  stats,
  timed,
} from '../common';

const CONCURRENCY = 16;
const SECONDS = 4;
const ROUNDS = 3;

interface Throughput {
  requests_per_second: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
}

async function hammer(
  url: string,
  headers: Record<string, string> = {},
  duration = SECONDS,
): Promise<Throughput> {
  const result = await autocannon({ url, connections: CONCURRENCY, duration, headers });
  return {
    requests_per_second: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

/**
 * The route's own DynamoDB read, raw: BatchGetItem of the member's item and the file's, by
 * CONCURRENCY workers for SECONDS, with the SDK.
 */
async function rawBatchGets(ctx: BenchContext, fileId: string): Promise<Throughput> {
  const documents = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: ctx.stack.dynamodbEndpoint, maxAttempts: 1 }),
  );
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + SECONDS * 1000;
  const read = () =>
    documents.send(
      new BatchGetCommand({
        RequestItems: {
          [ctx.stack.membersTable]: {
            Keys: [{ company_id: ctx.company, principal: 'user:bench' }],
          },
          [ctx.stack.filesTable]: {
            Keys: [{ company_id: ctx.company, id: fileId }],
            ConsistentRead: true,
          },
        },
      }),
    );
  const first = await read();
  if (first.Responses?.[ctx.stack.membersTable]?.length !== 1) {
    throw new Error("the raw read does not find the bench user's membership");
  }
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        latencies.push(await timed(() => read().catch(() => errors++)));
      }
    }),
  );
  documents.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => round(latencies[Math.floor(q * (latencies.length - 1))] ?? 0);
  return {
    requests_per_second: Math.round(latencies.length / SECONDS),
    p50_ms: at(0.5),
    p99_ms: at(0.99),
    errors,
  };
}

const median = (runs: Throughput[], key: keyof Throughput) =>
  stats(runs.map((run) => run[key])).median;
const summary = (runs: Throughput[]) => ({
  requests_per_second: stats(runs.map((run) => run.requests_per_second)),
  p50_ms: median(runs, 'p50_ms'),
  p99_ms: median(runs, 'p99_ms'),
  errors: runs.reduce((sum, run) => sum + run.errors, 0),
});
const describe = (s: ReturnType<typeof summary>) =>
  `${show(s.requests_per_second, 'req/s')}, p50 ${s.p50_ms} ms, p99 ${s.p99_ms} ms`;

/**
 * GET of a file's metadata at concurrency 16, next to what it cannot beat: the health function
 * (a no-op on the same offline server: the HTTP path's own cost) and a raw BatchGetItem of the
 * two items the route reads (the data's cost). A request that pays both in turn has at best
 * 1/(1/noop + 1/raw) requests per second; the target is 0.9x of that limit.
 */
export async function metadataRead(ctx: BenchContext): Promise<CaseResult> {
  const created = await call<{ resource: { id: string } }>(filesUrl(ctx.company), {
    method: 'POST',
    headers: bearer(ctx.token),
    body: multipart(randomBytes(1024), 'small.bin', 'application/octet-stream'),
  });
  const fileId = created.body.resource.id;
  const url = filesUrl(ctx.company, `/${fileId}`);
  const auth = { authorization: `Bearer ${ctx.token}` };
  // Warm both paths (every concurrent connection reaches a loaded function) before measuring.
  await hammer(url, auth, 1);
  await hammer(`${API()}/health`, {}, 1);
  const service: Throughput[] = [];
  const noop: Throughput[] = [];
  const raw: Throughput[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    service.push(await hammer(url, auth));
    noop.push(await hammer(`${API()}/health`));
    raw.push(await rawBatchGets(ctx, fileId));
  }
  const s = summary(service);
  const n = summary(noop);
  const r = summary(raw);
  const limit = Math.round(
    1 / (1 / n.requests_per_second.median + 1 / r.requests_per_second.median),
  );
  const ratio = round(s.requests_per_second.median / limit, 2);
  return {
    case: `metadata read, concurrency ${CONCURRENCY}`,
    service: `GET of the metadata: ${describe(s)}`,
    baseline: `no-op function on the same server: ${describe(n)}; raw BatchGetItem of the two items: ${describe(r)}; limit of both in turn: ${limit} req/s`,
    result: `${ratio}x of the limit`,
    target: '>= 0.9x of the limit',
    met: ratio >= 0.9 && s.errors === 0,
    figures: {
      concurrency: CONCURRENCY,
      seconds_per_round: SECONDS,
      rounds: ROUNDS,
      service: s,
      noop_function: n,
      raw_batch_get: r,
      limit_requests_per_second: limit,
      ratio,
      target_ratio: 0.9,
    },
  };
}

/** The 302 and the presigned GET of 4 MiB, next to GetObject of the same object. */
export async function download(ctx: BenchContext): Promise<CaseResult> {
  const COUNT = 25;
  const bytes = randomBytes(4 * MiB);
  const created = await call<{ resource: { id: string; upload_data: { size: number } } }>(
    filesUrl(ctx.company),
    {
      method: 'POST',
      headers: bearer(ctx.token),
      body: multipart(bytes, 'download.bin', 'application/octet-stream'),
    },
  );
  const fileId = created.body.resource.id;
  const { content } = (await fileItem(ctx.company, fileId)) as { content: { revision: string } };
  const key = `files/${ctx.company}/${fileId}/${content.revision}/data`;

  const redirects: number[] = [];
  async function viaService(): Promise<void> {
    const link = filesUrl(ctx.company, `/${fileId}/download`);
    const redirected = performance.now();
    const redirect = await request('GET', link, bearer(ctx.token));
    redirects.push(performance.now() - redirected);
    if (redirect.status !== 302) throw new Error(`download answered ${redirect.status}`);
    const object = await request('GET', String(redirect.headers.location), {});
    if (object.body.byteLength !== bytes.length) throw new Error('short download');
  }
  async function viaGetObject(): Promise<void> {
    const { Body } = await ctx.s3.send(
      new GetObjectCommand({ Bucket: ctx.stack.bucket, Key: key }),
    );
    const body = await Body?.transformToByteArray();
    if (body?.byteLength !== bytes.length) throw new Error('short GetObject');
  }
  await viaService();
  await viaGetObject();
  const service: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < COUNT; i++) {
    baseline.push(await timed(viaGetObject));
    service.push(await timed(viaService));
  }
  const s = stats(service, 1);
  const b = stats(baseline, 1);
  const ratio = round(s.median / b.median, 2);
  // The first round warmed up before the clock: its 302 is not one of the timed ones.
  const r = stats(redirects.slice(1), 1);
  return {
    case: 'download, 4 MiB',
    service: `302 from the API, then the presigned GET: ${show(s, 'ms')}, of which the 302: ${show(r, 'ms')}`,
    baseline: `GetObject of the same object: ${show(b, 'ms')}`,
    result: `${ratio}x`,
    target: '<= 1.5x',
    met: ratio <= 1.5,
    figures: {
      rounds: COUNT,
      service_ms: s,
      redirect_ms: r,
      get_object_ms: b,
      ratio,
      target_ratio: 1.5,
    },
  };
}
