import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';

export const root = path.resolve(__dirname, '../..');

export const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Median, min and max: these machines are noisy, one figure says little. */
export function stats(values: number[], digits = 0) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: round(sorted[Math.floor(sorted.length / 2)] ?? 0, digits),
    min: round(sorted[0] ?? 0, digits),
    max: round(sorted[sorted.length - 1] ?? 0, digits),
  };
}

export interface HandlerRun {
  seconds: number;
  rssAfterLoadMiB: number;
  peakRssMiB: number;
}

/**
 * Bundles a function as serverless-esbuild does for Lambda (previewers external) and runs it
 * once on `event` in a process of its own; returns its time and memory.
 */
export async function runHandlerAlone(entry: string, event: unknown): Promise<HandlerRun> {
  // Inside the project, so that the externals (sharp, …) resolve from node_modules.
  const bundle = path.join(root, '.esbuild/bench', `${path.basename(entry, '.ts')}.cjs`);
  await build({
    entryPoints: [path.join(root, entry)],
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    // As serverless.yml's custom.esbuild bundles the functions.
    mainFields: ['module', 'main'],
    outfile: bundle,
    external: ['sharp', 'pdf-to-img', '@ffmpeg-installer/ffmpeg'],
    logLevel: 'error',
  });
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(root, 'scripts/bench/run-handler.cjs'), bundle, JSON.stringify(event)],
    { cwd: root, env: process.env, maxBuffer: 1024 * 1024 },
  );
  return JSON.parse(stdout) as HandlerRun;
}

/** Prints the Markdown table and keeps the figures in bench/results/{name}.json. */
export async function report(name: string, table: string[], results: object): Promise<void> {
  process.stdout.write(['', ...table, ''].join('\n'));
  await mkdir(path.join(root, 'bench/results'), { recursive: true });
  await writeFile(
    path.join(root, 'bench/results', `${name}.json`),
    `${JSON.stringify({ measured_at: new Date().toISOString(), ...results }, null, 2)}\n`,
  );
}
