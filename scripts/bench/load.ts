/**
 * npm run load [-- --seconds 30 --connections 8] — a bounded load test on a local stack of its
 * own: autocannon mixes metadata reads, small uploads (multipart, as Twake sends them) and
 * download redirects for a fixed time, then every file it touched is downloaded and checked
 * byte for byte. Prints requests/s, p50/p99 latency, errors and inconsistent files; the
 * target is zero errors and zero inconsistent files. Stops by itself.
 */
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startLocalStack, stackEnvironment, stopLocalStack } from '../local/stack-process';
import { report } from './common';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    connections: { type: 'string', default: '8' },
  },
});
const seconds = Math.min(Math.max(Number(values.seconds), 1), 300);
const connections = Math.min(Math.max(Number(values.connections), 1), 64);

async function main(): Promise<void> {
  const stack = await startLocalStack();
  try {
    Object.assign(process.env, stackEnvironment(stack.info, stack.dataDir));
    const { binaryBytes, call, downloadBytes, filesUrl, multipart, sha256 } =
      await import('../../tests/helpers/api');
    const { bearer, tokenFor } = await import('../../tests/helpers/principals');
    const company = 'load';
    const token = await tokenFor({ company, user: 'loader' });

    // Files to read and download, and the body every upload sends.
    const seed = binaryBytes(8 * 1024, 3);
    const seeded: string[] = [];
    for (let i = 0; i < 20; i++) {
      const created = await call<{ resource: { id: string } }>(filesUrl(company), {
        method: 'POST',
        headers: bearer(token),
        body: multipart(seed, `seed-${i}.bin`, 'application/zip'),
      });
      seeded.push(created.body.resource.id);
    }
    const form = new Response(multipart(binaryBytes(4 * 1024, 4), 'small.zip', 'application/zip'));
    const uploadBody = Buffer.from(await form.arrayBuffer());
    const uploadType = form.headers.get('content-type') ?? '';
    const uploaded: string[] = [];
    const base = new URL(filesUrl(company)).pathname;
    const auth = `Bearer ${token}`;
    let turn = 0;
    const pick = () => seeded[turn++ % seeded.length] ?? '';

    const result = await autocannon({
      url: new URL(filesUrl(company)).origin,
      connections,
      duration: seconds,
      requests: [
        {
          method: 'GET',
          headers: { authorization: auth },
          setupRequest: (r) => ({ ...r, path: `${base}/${pick()}` }),
        },
        {
          method: 'POST',
          path: base,
          headers: { authorization: auth, 'content-type': uploadType },
          body: uploadBody,
          onResponse: (status, body) => {
            if (status === 200)
              uploaded.push((JSON.parse(body) as { resource: { id: string } }).resource.id);
          },
        },
        {
          method: 'GET',
          headers: { authorization: auth },
          setupRequest: (r) => ({ ...r, path: `${base}/${pick()}/download` }),
        },
      ],
    });
    const errors = result.errors + result.timeouts + result.non2xx - countRedirects(result);

    // Consistency: every seeded and uploaded file downloads to exactly its bytes.
    const expected = new Map<string, string>([
      ...seeded.map((id) => [id, sha256(seed)] as [string, string]),
      ...uploaded.map((id) => [id, sha256(binaryBytes(4 * 1024, 4))] as [string, string]),
    ]);
    let inconsistent = 0;
    for (const [id, digest] of expected) {
      const { bytes } = await downloadBytes(company, id, token);
      if (sha256(bytes) !== digest) inconsistent++;
    }

    const figures = {
      seconds,
      connections,
      requests: result.requests.total,
      requests_per_second: Math.round(result.requests.average),
      latency_p50_ms: result.latency.p50,
      latency_p99_ms: result.latency.p99,
      errors,
      files_checked: expected.size,
      inconsistent_files: inconsistent,
    };
    await report(
      'load',
      [
        '| mix (reads, small uploads, download redirects) | requests/s | p50 | p99 | errors | inconsistent files |',
        '|---|---|---|---|---|---|',
        `| ${seconds} s, ${connections} connections, ${figures.requests} requests | ${figures.requests_per_second} | ${figures.latency_p50_ms} ms | ${figures.latency_p99_ms} ms | ${errors} | ${inconsistent} of ${expected.size} |`,
      ],
      { load: figures },
    );
    if (errors > 0 || inconsistent > 0) process.exitCode = 1;
  } finally {
    await stopLocalStack(stack);
  }
}

/** Download redirects are 302s: not errors, though autocannon counts them as non-2xx. */
function countRedirects(result: autocannon.Result): number {
  return (result as unknown as { '3xx': number })['3xx'] ?? 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
