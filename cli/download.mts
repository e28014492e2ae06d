/**
 * `serverless-files download` and `thumbnails`: bytes from the presigned links the service
 * answers (`redirect=false`), never through a Lambda.
 *
 * A download goes to `FILE.part` beside its target, with `FILE.part.json` naming the file's
 * revision; interrupted, the same command asks S3 for the rest by Range, and renames the part
 * file once it holds every byte.
 */
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import mime from 'mime-types';
import { Api, CliError, EXIT, Interrupted, refusal, send } from './api.mts';
import { type Task } from './progress.mts';
import { complete, type FileResource } from './resource.mts';

export async function fileResource(api: Api, id: string): Promise<FileResource> {
  return (await api.call<{ resource: FileResource }>('GET', `/files/${encodeURIComponent(id)}`))
    .resource;
}

async function link(api: Api, route: string): Promise<string> {
  return (await api.call<{ url: string }>('GET', route, { query: { redirect: 'false' } })).url;
}

/** A name from the service is only ever a name in the target directory. */
function safeName(name: string | undefined, fallback: string): string {
  const base = path.basename((name ?? '').replaceAll('\\', '/'));
  return base === '' || base === '.' || base === '..' ? fallback : base;
}

interface Revision {
  id: string;
  updated_at: number;
  size: number;
}

export interface Downloaded {
  path: string;
  size: number;
  /** Bytes this run fetched, and bytes an earlier run had (resumed by Range). */
  fetched: number;
  resumed: number;
}

export async function download(
  api: Api,
  id: string,
  output: string | undefined,
  start: (name: string, total: number, held: number) => Task,
): Promise<Downloaded> {
  const resource = await fileResource(api, id);
  if (!complete(resource) || !resource.upload_data) {
    throw new CliError(`File ${id} is not uploaded yet`, EXIT.conflict);
  }
  const size = resource.upload_data.size;
  const name = safeName(resource.metadata?.name, resource.id);
  if (output === '-') return toStdout(api, id, size, start(name, size, 0));
  let target = output ?? name;
  if (
    output &&
    (output.endsWith('/') || (await stat(output).catch(() => undefined))?.isDirectory())
  ) {
    target = path.join(output, name);
  }
  const url = await link(api, `/files/${encodeURIComponent(id)}/download`);
  const partial = `${target}.part`;
  const sidecar = `${partial}.json`;
  const revision: Revision = { id: resource.id, updated_at: resource.updated_at, size };

  const earlier = await readFile(sidecar, 'utf8')
    .then((text) => JSON.parse(text) as Revision)
    .catch(() => undefined);
  let have = 0;
  if (earlier && JSON.stringify(earlier) === JSON.stringify(revision)) {
    have = (await stat(partial).catch(() => undefined))?.size ?? 0;
  }
  if (have === 0 || have > size) {
    await rm(partial, { force: true });
    have = 0;
  }
  await writeFile(sidecar, `${JSON.stringify(revision)}\n`);

  const task = start(name, size, have);
  try {
    let fetched = 0;
    if (have < size) {
      const response = await send(url, {
        headers: have > 0 ? { range: `bytes=${have}-` } : {},
        signal: api.signal,
      });
      if (!response.ok || !response.body) {
        throw refusal(response.status, await response.text(), `download ${id}`);
      }
      if (have > 0 && response.status !== 206) have = 0; // no range served: from the start
      const file = createWriteStream(partial, { flags: have > 0 ? 'a' : 'w' });
      const counted = async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          fetched += chunk.length;
          task.add(chunk.length);
          yield chunk;
        }
      };
      await pipeline(response.body, counted, file).catch((error: unknown) => {
        if (api.signal.aborted) throw new Interrupted();
        throw error;
      });
    }
    const got = (await stat(partial).catch(() => undefined))?.size ?? 0;
    if (got !== size) {
      throw new CliError(
        `Download of ${id} ended at ${got} of ${size} bytes; run the same command again to resume`,
        EXIT.unavailable,
      );
    }
    await rename(partial, target);
    await rm(sidecar, { force: true });
    task.end('done');
    return { path: target, size, fetched, resumed: have };
  } catch (error) {
    task.end(api.signal.aborted ? 'interrupted' : 'failed');
    throw error;
  }
}

/** `-o -`: the bytes to stdout, as they come (nothing to resume into). */
async function toStdout(api: Api, id: string, size: number, task: Task): Promise<Downloaded> {
  const url = await link(api, `/files/${encodeURIComponent(id)}/download`);
  const response = await send(url, { signal: api.signal });
  if (!response.ok || !response.body) {
    throw refusal(response.status, await response.text(), `download ${id}`);
  }
  let fetched = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    fetched += chunk.length;
    task.add(chunk.length);
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
  task.end('done');
  return { path: '-', size, fetched, resumed: 0 };
}

/** Each thumbnail of the file, as `<name>.thumbnail-<index>.<ext>` in `directory`. */
export async function thumbnails(api: Api, id: string, directory: string): Promise<string[]> {
  const resource = await fileResource(api, id);
  const status = resource.metadata?.thumbnails_status;
  if (resource.thumbnails.length === 0) {
    if (status === 'waiting' || !complete(resource)) {
      throw new CliError(`File ${id} has no thumbnails yet (still being made)`, EXIT.conflict);
    }
    throw new CliError(`File ${id} has no thumbnails`, EXIT.notFound);
  }
  await mkdir(directory, { recursive: true });
  const stem = safeName(resource.metadata?.name, resource.id).replace(/\.[^.]*$/, '');
  const written: string[] = [];
  for (const thumbnail of resource.thumbnails) {
    const url = await link(api, `/files/${encodeURIComponent(id)}/thumbnails/${thumbnail.index}`);
    const response = await send(url, { signal: api.signal });
    if (!response.ok) {
      throw refusal(response.status, await response.text(), `thumbnail ${thumbnail.index}`);
    }
    const extension = mime.extension(thumbnail.type) || 'bin';
    const file = path.join(directory, `${stem}.thumbnail-${thumbnail.index}.${extension}`);
    await writeFile(file, Buffer.from(await response.arrayBuffer()));
    written.push(file);
  }
  return written;
}
