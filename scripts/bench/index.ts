/**
 * npm run bench [-- --only name,name] — the service against its baselines, in one run, on this
 * machine. Every figure is a ratio or a difference against a baseline measured in the same run
 * (these machines are noisy), from medians of several rounds with min and max.
 *
 * Uses the stack `npm start` runs if it answers, else starts one of its own on free ports
 * (stopped at the end). Prints a Markdown table and writes bench/results/latest.json. Bounded:
 * every case runs a fixed number of rounds or seconds (many-chunks stops by 15 minutes).
 *
 * Cases: single-upload, chunked-upload, direct-upload, lambda-time, thumbnail-sync, metadata-read, download, cold-start,
 * thumbnail-memory, placeholders, heic, assembly-memory, office-preview, hostile-pdf, many-chunks.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { readStackFile, type StackInfo } from '../local/stack-file.mts';
import { startLocalStack, stackEnvironment, stopLocalStack } from '../local/stack-process';
import { type BenchContext, type CaseResult, root, round } from './common';

type Case = (ctx: BenchContext) => Promise<CaseResult>;

/** Loaded once the environment points at the stack: the cases read it at import. */
async function cases(): Promise<Record<string, Case>> {
  const uploads = await import('./cases/uploads');
  const reads = await import('./cases/reads');
  const thumbnails = await import('./cases/thumbnails');
  const { coldStart } = await import('./cases/cold-start');
  const documents = await import('./cases/documents');
  const { manyChunks } = await import('./cases/many-chunks');
  const direct = await import('./cases/direct');
  return {
    'single-upload': uploads.singleUpload,
    'chunked-upload': uploads.chunkedUpload,
    'direct-upload': direct.directUpload,
    'lambda-time': direct.lambdaTime,
    'thumbnail-sync': thumbnails.thumbnailSync,
    'metadata-read': reads.metadataRead,
    download: reads.download,
    'cold-start': coldStart,
    'thumbnail-memory': thumbnails.thumbnailMemory,
    placeholders: thumbnails.placeholders,
    heic: thumbnails.heicThumbnail,
    'assembly-memory': uploads.assemblyMemory,
    'office-preview': documents.officePreview,
    'hostile-pdf': documents.hostilePdf,
    'many-chunks': manyChunks,
  };
}

/** The running `npm start` stack if it answers, else a fresh one of our own. */
async function acquireStack(): Promise<{
  info: StackInfo;
  dataDir: string;
  stop: () => Promise<void>;
}> {
  const dataDir = path.resolve(root, process.env['LOCAL_DATA_DIR'] ?? '.local-data');
  try {
    const info = await readStackFile(dataDir);
    const health = await fetch(`${info.api}/health`, { signal: AbortSignal.timeout(2000) });
    if (health.ok) {
      process.stderr.write(`Using the running stack at ${info.api}\n`);
      return { info, dataDir, stop: async () => undefined };
    }
  } catch {
    // none running: start one below
  }
  process.stderr.write('Starting a local stack of its own…\n');
  const stack = await startLocalStack();
  return { info: stack.info, dataDir: stack.dataDir, stop: () => stopLocalStack(stack) };
}

function table(results: CaseResult[]): string {
  const escape = (text: string) => text.replaceAll('|', '\\|');
  return [
    '| case | service | baseline (same run) | result | target | met |',
    '|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${[r.case, r.service, r.baseline, r.result, r.target].map(escape).join(' | ')} | ${r.met ? 'yes' : '**no**'} |`,
    ),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' } } });
  const started = performance.now();
  const stack = await acquireStack();
  try {
    Object.assign(process.env, stackEnvironment(stack.info, stack.dataDir));
    const all = await cases();
    const wanted = values.only ? values.only.split(',') : Object.keys(all);
    const unknown = wanted.filter((name) => !(name in all));
    if (unknown.length > 0) throw new Error(`unknown case ${unknown.join(', ')}`);

    const { tokenFor } = await import('../../tests/helpers/principals');
    const company = `bench-${Date.now()}`;
    const ctx: BenchContext = {
      stack: stack.info,
      company,
      token: await tokenFor({ company, user: 'bench' }),
      s3: new S3Client({
        endpoint: stack.info.s3Endpoint,
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
      }),
    };
    const results: CaseResult[] = [];
    for (const name of wanted) {
      process.stderr.write(`… ${name}\n`);
      const caseStarted = performance.now();
      const result = await (all[name] as Case)(ctx);
      results.push({
        ...result,
        figures: {
          ...result.figures,
          case_seconds: round((performance.now() - caseStarted) / 1000),
        },
      });
    }
    ctx.s3.destroy();

    const output = {
      measured_at: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        memory_gib: round(totalmem() / 1024 ** 3, 1),
        node: process.version,
      },
      seconds: round((performance.now() - started) / 1000),
      cases: Object.fromEntries(wanted.map((name, i) => [name, results[i]])),
    };
    await mkdir(path.join(root, 'bench/results'), { recursive: true });
    await writeFile(
      path.join(root, 'bench/results', values.only ? 'partial.json' : 'latest.json'),
      `${JSON.stringify(output, null, 2)}\n`,
    );
    process.stdout.write(`\n${table(results)}\n\n`);
    for (const result of results.filter((r) => r.details)) {
      process.stdout.write(`${result.case}:\n\n${result.details!.join('\n')}\n\n`);
    }
    process.stdout.write(
      `${results.filter((r) => r.met).length} of ${results.length} targets met in ${output.seconds} s; figures in bench/results/${values.only ? 'partial' : 'latest'}.json\n`,
    );
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
