import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { handlerBuild } from '../image/bundle';
import type { StackInfo } from '../local/stack-file.mts';
import { inParallel } from '../../lib/parallel';
import { multipart } from '../../tests/helpers/api';

export const root = path.resolve(__dirname, '../..');
export const MiB = 1024 * 1024;

export const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Median, min and max: these machines are noisy, one figure says little. */
export function stats(values: number[], digits = 0): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: round(sorted[Math.floor(sorted.length / 2)] ?? 0, digits),
    min: round(sorted[0] ?? 0, digits),
    max: round(sorted[sorted.length - 1] ?? 0, digits),
  };
}

/** "12.3 ms (11.9-14)": a median with its range. */
export const show = (spread: Spread, unit: string) =>
  `${spread.median} ${unit} (${spread.min}-${spread.max})`;

/** What every case gets: the stack under test, a company with a token, a raw S3 client. */
export interface BenchContext {
  stack: StackInfo;
  company: string;
  token: string;
  /** The same S3 the service uses, for the raw baselines. */
  s3: S3Client;
}

/** One row of the table, and its figures for bench/results/latest.json. */
export interface CaseResult {
  case: string;
  service: string;
  baseline: string;
  result: string;
  target: string;
  met: boolean;
  figures: Record<string, unknown>;
  /** More Markdown, printed under the table (e.g. a figure per function). */
  details?: string[];
}

/** Times `run` once, in ms. */
export async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** A request body made before the clock starts, as the baselines' parts are. */
export interface PreparedBody {
  bytes: Buffer;
  contentType: string;
}

/** multipart/form-data with one file part, as Twake's web client and resumable.js send it. */
export async function multipartBody(bytes: Uint8Array, filename: string): Promise<PreparedBody> {
  const form = new Response(multipart(bytes, filename, 'application/octet-stream'));
  return {
    bytes: Buffer.from(await form.arrayBuffer()),
    contentType: form.headers.get('content-type') ?? '',
  };
}

const keepAlive = new http.Agent({ keepAlive: true });

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A request over node:http with keep-alive, the transport the SDK gives the baselines. The
 * client shares the 2 cores with the stack under test, and fetch (undici) costs more: it spent
 * 0.45 s of CPU sending 100 MiB of chunks where node:http spent 0.05 s.
 */
export function request(
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  headers: Record<string, string>,
  body?: PreparedBody,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      url,
      {
        method,
        agent: keepAlive,
        headers: body
          ? {
              ...headers,
              ...(body.contentType && { 'content-type': body.contentType }),
              'content-length': body.bytes.byteLength,
            }
          : headers,
      },
      (response) => {
        const pieces: Buffer[] = [];
        response.on('data', (piece: Buffer) => pieces.push(piece));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(pieces),
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body?.bytes);
  });
}

/**
 * A function bundled as serverless-esbuild bundles it for Lambda (same options, previewers
 * external), as CommonJS under .esbuild/bench (inside the project, so that the externals
 * resolve from node_modules). Returns the bundle's path.
 */
export async function bundleFunction(entry: string): Promise<string> {
  const bundle = path.join(root, '.esbuild/bench', `${path.basename(entry, '.ts')}.cjs`);
  await build(handlerBuild(entry, bundle));
  return bundle;
}

export interface HandlerRun {
  seconds: number;
  rssAfterLoadMiB: number;
  peakRssMiB: number;
  /**
   * With `children`: the largest peak RSS of the process and everything it ran (LibreOffice,
   * ffmpeg), from GNU time's wait4 figure, which covers the descendants a process waited for.
   */
  treePeakRssMiB?: number;
}

/**
 * Runs a bundled function once on `event` in a process of its own, with the environment its
 * own serverless.yml entry adds (`functionEnvironment`, e.g. NODE_OPTIONS): its time and memory.
 */
export async function runHandlerAlone(
  entry: string,
  event: unknown,
  functionEnvironment: Record<string, string> = {},
  { children = false } = {},
): Promise<HandlerRun> {
  const bundle = await bundleFunction(entry);
  const command = [path.join(root, 'scripts/bench/run-handler.cjs'), bundle, JSON.stringify(event)];
  const { stdout, stderr } = await promisify(execFile)(
    children ? '/usr/bin/time' : process.execPath,
    children ? ['-f', 'tree-peak-kb=%M', process.execPath, ...command] : command,
    { cwd: root, env: { ...process.env, ...functionEnvironment }, maxBuffer: 1024 * 1024 },
  );
  const run = JSON.parse(stdout) as HandlerRun;
  const treeKb = /tree-peak-kb=(\d+)/.exec(stderr)?.[1];
  return treeKb ? { ...run, treePeakRssMiB: round(Number(treeKb) / 1024, 1) } : run;
}

/** Prints a Markdown table and keeps the figures in bench/results/{name}.json. */
export async function report(name: string, table: string[], results: object): Promise<void> {
  process.stdout.write(['', ...table, ''].join('\n'));
  await mkdir(path.join(root, 'bench/results'), { recursive: true });
  await writeFile(
    path.join(root, 'bench/results', `${name}.json`),
    `${JSON.stringify({ measured_at: new Date().toISOString(), ...results }, null, 2)}\n`,
  );
}

/** The bundle of an HTTP function, called as Lambda calls it, in this process. */
export async function inProcess(entry: string) {
  const { invoke } = await import('../../tests/helpers/events');
  const bundle = (await import(await bundleFunction(entry))) as {
    handler?: unknown;
    default?: { handler: unknown };
  };
  // module.exports itself, or under `default`, as the loader presents CommonJS.
  const handler = bundle.handler ?? bundle.default?.handler;
  return (event: unknown) => invoke(handler, event as never);
}

/** The baseline of the upload cases: the SDK's multipart upload of `parts`, `inFlight` at once. */
export async function rawMultipartUpload(
  ctx: BenchContext,
  key: string,
  parts: Uint8Array[],
  inFlight: number,
): Promise<void> {
  const Bucket = ctx.stack.bucket;
  const { UploadId } = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key }));
  const uploaded = await inParallel(parts, inFlight, async (part, index) => {
    const { ETag } = await ctx.s3.send(
      new UploadPartCommand({ Bucket, Key: key, UploadId, PartNumber: index + 1, Body: part }),
    );
    return { ETag, PartNumber: index + 1 };
  });
  await ctx.s3.send(
    new CompleteMultipartUploadCommand({
      Bucket,
      Key: key,
      UploadId,
      MultipartUpload: { Parts: uploaded },
    }),
  );
}
