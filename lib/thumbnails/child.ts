/**
 * Renderers that a hostile file can blow up (pdf.js inflating a stream of 1 GiB, LibreOffice,
 * ffmpeg) run in a child process: one Node process per file, in a process group of its own
 * with whatever it starts, killed whole when any process of the group has more resident
 * memory than RENDER_MEMORY_BYTES or its time runs out, and once it ends (nothing it started
 * outlives the render). The function's own process (and the next invocation it serves) keeps
 * its memory.
 *
 * The child runs the very file this code was loaded from, with CHILD set: on Lambda and under
 * serverless offline that is the function's bundle; from the sources (tests, benchmarks) it is
 * this TypeScript module, run through tsx (about 190 MB for a small PDF, the bundle 100 MB).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { logger } from '../logger';
import type { PreviewKind } from './kinds';
import { renderKind, type RenderedThumbnail, type RenderLimits } from './render';

/**
 * The group is stopped once one of its processes (the child, LibreOffice, ffmpeg) has more
 * resident memory than this, sampled every WATCH_MS: each one's peak stays under 512 MiB, the
 * overshoot between two samples included. Real documents render far below it; pdf.js images
 * are held to THUMBNAIL_MAX_PIXELS too. A sample reads every /proc/<pid>/stat for the group
 * (this kernel's /proc has no children lists): about 1 ms with 80 processes, fewer on Lambda.
 */
export const RENDER_MEMORY_BYTES = 480 * 1024 * 1024;
const CHILD = 'SERVERLESS_FILES_RENDER_CHILD';
const WATCH_MS = 20;

interface Job {
  kind: PreviewKind;
  input: string;
  file: { mime: string; name: string };
  limits: RenderLimits;
}
type Outcome =
  { thumbnails: (Omit<RenderedThumbnail, 'bytes'> & { bytes: string })[] } | { error: string };

/** A render in a child, as it went: what it made or why it failed, its time and memory. */
export interface ChildRender {
  thumbnails?: RenderedThumbnail[];
  error?: string;
  ms: number;
  /** The largest peak resident memory of any process of the group (VmHWM), and its name. */
  peak: { bytes: number; process: string };
}

/**
 * Each live process of a process group, with its peak resident memory (VmHWM) so far; the
 * group's leader (the child) is named `renderer`, the others by their command (soffice.bin).
 */
function groupMembers(group: number): { name: string; peak: number }[] {
  const members: { name: string; peak: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (name) state ppid pgrp …: the name may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== group) continue;
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      members.push({
        name:
          Number(entry) === group
            ? 'renderer'
            : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
        peak: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024,
      });
    } catch {
      // gone since the listing
    }
  }
  return members;
}

export async function renderInChild(
  kind: PreviewKind,
  input: Buffer,
  file: { mime: string; name: string },
  limits: RenderLimits,
): Promise<RenderedThumbnail[]> {
  const render = await measuredRenderInChild(kind, input, file, limits);
  // What sizes the thumbnailer's memory: the largest renderer process of each file.
  logger.info('rendered', {
    kind,
    ms: render.ms,
    peak_rss_mib: Math.round(render.peak.bytes / 1024 ** 2),
    peak_process: render.peak.process,
    ...(render.error !== undefined && { error: render.error }),
  });
  if (render.error !== undefined) throw new Error(render.error);
  return render.thumbnails ?? [];
}

/** renderInChild, reporting instead of throwing: the outcome, the time and the peak. */
export async function measuredRenderInChild(
  kind: PreviewKind,
  input: Buffer,
  file: { mime: string; name: string },
  limits: RenderLimits,
): Promise<ChildRender> {
  const dir = await mkdtemp(path.join(tmpdir(), 'render-'));
  const started = performance.now();
  try {
    const job: Job = { kind, input: path.join(dir, 'input'), file, limits };
    await writeFile(job.input, input);
    await writeFile(path.join(dir, 'job.json'), JSON.stringify(job));
    const { outcome, peak } = await run(path.join(dir, 'job.json'), limits.timeoutMs);
    const ms = Math.round(performance.now() - started);
    if ('error' in outcome) return { error: outcome.error, ms, peak };
    const thumbnails = outcome.thumbnails.map((t) => ({
      ...t,
      bytes: Buffer.from(t.bytes, 'base64'),
    }));
    return { thumbnails, ms, peak };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The function's environment without the role's credentials: the child needs the settings its
 * bundle reads at load (on AWS the token secret is in SSM, not here), never what a hostile
 * file could call AWS with.
 */
function rendererEnvironment(): NodeJS.ProcessEnv {
  const secret = /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|CONTAINER_)/;
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !secret.test(name)));
}

/**
 * Samples the group led by `pid` every WATCH_MS: `peak` keeps its largest process, and
 * `exceeded` is called (once per sample) for one past RENDER_MEMORY_BYTES. Returns the stop.
 */
function watchGroup(
  pid: number,
  peak: ChildRender['peak'],
  exceeded: (reason: string) => void,
): () => void {
  const mib = (bytes: number) => Math.round(bytes / 1024 ** 2);
  const watch = setInterval(() => {
    for (const member of groupMembers(pid)) {
      if (member.peak > peak.bytes)
        Object.assign(peak, { bytes: member.peak, process: member.name });
      if (member.peak > RENDER_MEMORY_BYTES) {
        exceeded(
          `rendering needed more than ${mib(RENDER_MEMORY_BYTES)} MiB ` +
            `(${member.name} stopped at ${mib(member.peak)} MiB)`,
        );
      }
    }
  }, WATCH_MS);
  return () => clearInterval(watch);
}

/** What the child wrote on stdout; its end status and last words when that is no outcome. */
function outcomeOf(stdout: Buffer, code: number | null, said: string): Outcome {
  try {
    return JSON.parse(stdout.toString('utf8')) as Outcome;
  } catch {
    return { error: `the renderer ended with ${code} and no result: ${said}` };
  }
}

/** Runs the child on a job; a failure of the child's own (killed, crashed) is its outcome. */
function run(
  jobFile: string,
  timeoutMs: number,
): Promise<{ outcome: Outcome; peak: ChildRender['peak'] }> {
  const fromSources = __filename.endsWith('.ts');
  // tsx's CommonJS hook only: its ES module hook would also transform pdf.js (+180 MB).
  const args = [...(fromSources ? ['--require', 'tsx/cjs'] : []), __filename, jobFile];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...rendererEnvironment(), [CHILD]: '1' },
  });
  const peak = { bytes: 0, process: '' };
  return new Promise((resolve) => {
    let failure: string | undefined;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // nothing left in the group
      }
    };
    const stop = (reason: string) => {
      failure ??= reason;
      killGroup();
    };
    // A LibreOffice or ffmpeg still running when the child ended (crashed, or exited without
    // waiting for it) ends with it.
    child.once('exit', killGroup);
    const unwatch = child.pid ? watchGroup(child.pid, peak, stop) : () => undefined;
    const timer = setTimeout(() => stop(`rendering took longer than ${timeoutMs} ms`), timeoutMs);
    const output: Buffer[] = [];
    child.stdout.on('data', (piece: Buffer) => output.push(piece));
    // The end of what the child said, for the error when it gives no result.
    let said = '';
    child.stderr.on('data', (piece: Buffer) => (said = (said + piece.toString()).slice(-500)));
    child.once('error', (error) => stop(error.message));
    child.once('close', (code) => {
      unwatch();
      clearTimeout(timer);
      const outcome = failure ? { error: failure } : outcomeOf(Buffer.concat(output), code, said);
      resolve({ outcome, peak });
    });
  });
}

/** In the child: the job named on the command line, its outcome as JSON on stdout. */
async function childMain(jobFile: string): Promise<void> {
  const job = JSON.parse(await readFile(jobFile, 'utf8')) as Job;
  let outcome: Outcome;
  try {
    const thumbnails = await renderKind(job.kind, await readFile(job.input), job.file, job.limits);
    outcome = { thumbnails: thumbnails.map((t) => ({ ...t, bytes: t.bytes.toString('base64') })) };
  } catch (error) {
    outcome = { error: (error as Error).message };
  }
  process.stdout.write(JSON.stringify(outcome), () => process.exit(0));
}

// Started once every module of the bundle is loaded.
if (process.env[CHILD] && process.argv[2]) {
  const jobFile = process.argv[2];
  setImmediate(() => void childMain(jobFile));
}
