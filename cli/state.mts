/**
 * What an interrupted upload leaves behind so that the same command resumes it: a small JSON
 * file per upload, in `$SERVERLESS_FILES_STATE_DIR` (default `$XDG_STATE_HOME/serverless-files`,
 * or `~/.local/state/serverless-files`). It names the upload, not what was sent: on resume the
 * service is asked which parts (or chunks) it holds. Removed when the upload completes.
 */
import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

/** The local file as it was when the upload started; a changed file starts over. */
export interface Source {
  path: string;
  size: number;
  mtimeMs: number;
}

export type UploadState =
  | {
      via: 'direct';
      source: Source;
      file_id: string;
      key: string;
      upload_id: string;
      part_size: number;
    }
  | {
      via: 'chunks';
      source: Source;
      file_id: string;
      chunk_size: number;
    };

export function stateDir(): string {
  const explicit = process.env['SERVERLESS_FILES_STATE_DIR'];
  if (explicit) return explicit;
  const base = process.env['XDG_STATE_HOME'] || path.join(homedir(), '.local', 'state');
  return path.join(base, 'serverless-files');
}

/** One state file per (service, company, local file). */
export function statePath(url: string, company: string, file: string): string {
  const id = createHash('sha256')
    .update(JSON.stringify([url, company, file]))
    .digest('hex');
  return path.join(stateDir(), `upload-${id.slice(0, 32)}.json`);
}

export async function readState(file: string): Promise<UploadState | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as UploadState;
  } catch {
    return undefined; // none, or unreadable (a crash mid-write cannot leave one: see writeState)
  }
}

/** Written whole or not at all (a temporary file renamed over it). */
export async function writeState(file: string, state: UploadState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`);
  await rename(temporary, file);
}

export async function removeState(file: string): Promise<void> {
  await rm(file, { force: true });
}

export function sameSource(a: Source, b: Source): boolean {
  return a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/**
 * Holds the upload for this process: a second `upload` of the same file (another terminal, a
 * script run twice) is refused while this one runs, instead of racing it. A lock left by a
 * process that died (a crash, a kill) is taken over. Returns the release.
 */
export async function lockState(file: string): Promise<(() => Promise<void>) | { heldBy: number }> {
  await mkdir(path.dirname(file), { recursive: true });
  const lock = `${file}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(lock, 'utf8').catch(() => ''));
      if (holder && holder !== process.pid && alive(holder)) return { heldBy: holder };
      await rm(lock, { force: true }); // its process is gone
    }
  }
  return { heldBy: 0 };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
