/**
 * Renderers that a hostile file can blow up (pdf.js inflating a stream of 1 GiB, LibreOffice,
 * ffmpeg) run in a child process: one Node process per file, in a process group of its own
 * with whatever it starts, killed whole when its resident memory passes RENDER_MEMORY_BYTES or
 * its time runs out, and once it ends (nothing it started outlives the render). The function's
 * own process (and the next invocation it serves) keeps its memory.
 *
 * The child runs the very file this code was loaded from, with CHILD set: on Lambda and under
 * serverless offline that is the function's bundle; from the sources (tests, benchmarks) it is
 * this TypeScript module, run through tsx (about 190 MB for a small PDF, the bundle 100 MB).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PreviewKind } from './kinds';
import { renderKind, type RenderedThumbnail, type RenderLimits } from './render';

/**
 * The child is stopped once its resident memory passes this, sampled every WATCH_MS: its
 * peak stays under 512 MiB (with the bound at 512 MiB, a PDF whose stream inflates to 1 GiB
 * was stopped at 514 MiB). Real documents render far below it; pdf.js images are held to
 * THUMBNAIL_MAX_PIXELS too.
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

/** The child's peak resident memory so far (VmHWM), or 0 once it is gone. */
function peakOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

export async function renderInChild(
  kind: PreviewKind,
  input: Buffer,
  file: { mime: string; name: string },
  limits: RenderLimits,
): Promise<RenderedThumbnail[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'render-'));
  try {
    const job: Job = { kind, input: path.join(dir, 'input'), file, limits };
    await writeFile(job.input, input);
    await writeFile(path.join(dir, 'job.json'), JSON.stringify(job));
    const outcome = await run(path.join(dir, 'job.json'), limits.timeoutMs);
    if ('error' in outcome) throw new Error(outcome.error);
    return outcome.thumbnails.map((t) => ({ ...t, bytes: Buffer.from(t.bytes, 'base64') }));
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

function run(jobFile: string, timeoutMs: number): Promise<Outcome> {
  const fromSources = __filename.endsWith('.ts');
  // tsx's CommonJS hook only: its ES module hook would also transform pdf.js (+180 MB).
  const args = [...(fromSources ? ['--require', 'tsx/cjs'] : []), __filename, jobFile];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...rendererEnvironment(), [CHILD]: '1' },
  });
  return new Promise((resolve, reject) => {
    let failure: Error | undefined;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // nothing left in the group
      }
    };
    const stop = (error: Error) => {
      failure ??= error;
      killGroup();
    };
    // A LibreOffice or ffmpeg still running when the child ended (its own timeout answered
    // first) ends with it.
    child.once('exit', killGroup);
    const mib = (bytes: number) => Math.round(bytes / 1024 ** 2);
    const watch = setInterval(() => {
      const peak = child.pid ? peakOf(child.pid) : 0;
      if (peak > RENDER_MEMORY_BYTES) {
        stop(
          new Error(
            `rendering needed more than ${mib(RENDER_MEMORY_BYTES)} MiB (stopped at ${mib(peak)} MiB)`,
          ),
        );
      }
    }, WATCH_MS);
    const timer = setTimeout(
      () => stop(new Error(`rendering took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
    const output: Buffer[] = [];
    child.stdout.on('data', (piece: Buffer) => output.push(piece));
    // The end of what the child said, for the error when it gives no result.
    let said = '';
    child.stderr.on('data', (piece: Buffer) => (said = (said + piece.toString()).slice(-500)));
    child.once('error', (error) => stop(error));
    child.once('close', (code) => {
      clearInterval(watch);
      clearTimeout(timer);
      if (failure) return reject(failure);
      try {
        resolve(JSON.parse(Buffer.concat(output).toString('utf8')) as Outcome);
      } catch {
        reject(new Error(`the renderer ended with ${code} and no result: ${said}`));
      }
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
