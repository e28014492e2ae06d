/**
 * `serverless-files upload`: one local file to the service, resumable.
 *
 * - Big files go straight to S3 (the direct-upload routes): parts read from the file, each
 *   with its CRC32C, which the part URL binds and S3 verifies, several in flight.
 * - Files that fit one request (4 MiB), or any with `--via chunks`, go as Twake's numbered
 *   chunks through the API.
 *
 * Before the first byte, a state file names the upload (state.mts). Interrupted (Ctrl-C, a
 * crash, a lost connection), the same command reads it and asks the service what it already
 * holds (ListParts, or the chunk test), and sends only the rest.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Crc32c } from '@aws-sdk/checksums/crc';
import mime from 'mime-types';
import { Api, CliError, EXIT, refusal, retrying, send } from './api.mts';
import { type Task } from './progress.mts';
import { complete, type FileResource } from './resource.mts';
import {
  lockState,
  readState,
  removeState,
  sameSource,
  statePath,
  writeState,
  type Source,
  type UploadState,
} from './state.mts';

const MiB = 1024 * 1024;
/** The most data the API takes in one request. */
export const CHUNK_BYTES = 4 * MiB;
const MIN_PART_BYTES = 5 * MiB; // S3's least part but the last
const MAX_PARTS = 10_000;

export interface UploadOptions {
  via: 'auto' | 'direct' | 'chunks';
  thumbnails: boolean;
  /** Direct parts, in bytes (the least is 5 MiB; raised so that no file needs 10,000+). */
  partSize: number;
  /** Parts (or chunks) of this file in flight at once. */
  concurrency: number;
  /** The service's URL and company, which name the state file with the local path. */
  url: string;
  company: string;
}

export interface Uploaded {
  resource: FileResource;
  /** Bytes this run sent, and bytes it found already held (a resumed upload). */
  sent: number;
  held: number;
}

interface Job {
  api: Api;
  fd: FileHandle;
  source: Source;
  name: string;
  type: string;
  stateFile: string;
  options: UploadOptions;
  start: (held: number) => Task;
}

export async function upload(
  api: Api,
  file: string,
  options: UploadOptions,
  start: (name: string, total: number, held: number) => Task,
): Promise<Uploaded> {
  const absolute = path.resolve(file);
  const info = await stat(absolute).catch((error: NodeJS.ErrnoException) => {
    throw new CliError(`cannot be read (${error.code ?? error.message})`, EXIT.usage);
  });
  if (!info.isFile()) throw new CliError('is not a file', EXIT.usage);
  const source: Source = { path: absolute, size: info.size, mtimeMs: info.mtimeMs };
  const name = path.basename(absolute);
  const stateFile = statePath(options.url, options.company, absolute);
  const release = await lockState(stateFile);
  if (!(release instanceof Function)) {
    throw new CliError(
      `is being uploaded by another process${release.heldBy ? ` (${release.heldBy})` : ''}`,
      EXIT.conflict,
    );
  }
  const fd = await open(absolute, 'r');
  try {
    const job: Job = {
      api,
      fd,
      source,
      name,
      type: mime.lookup(name) || 'application/octet-stream',
      stateFile,
      options,
      start: (held) => start(name, source.size, held),
    };
    // An empty file has no part to send to S3: it is one Twake request, whatever the path.
    const direct =
      source.size > 0 &&
      (options.via === 'direct' || (options.via === 'auto' && source.size > CHUNK_BYTES));
    return direct ? await uploadDirect(job) : await uploadChunks(job);
  } finally {
    await fd.close();
    await release();
  }
}

/** The state left by an earlier run of this upload, if it is for the same file and path. */
async function earlier(job: Job, via: UploadState['via']): Promise<UploadState | undefined> {
  const state = await readState(job.stateFile);
  if (!state) return undefined;
  if (state.via === via && sameSource(state.source, job.source)) return state;
  // The file changed (or the path now goes the other way): start over, dropping the old upload.
  if (state.via === 'direct') await abandon(job.api, state).catch(() => undefined);
  await removeState(job.stateFile);
  return undefined;
}

async function abandon(api: Api, state: Extract<UploadState, { via: 'direct' }>): Promise<void> {
  await api.call('DELETE', `/s3/multipart/${encodeURIComponent(state.upload_id)}`, {
    query: { key: state.key },
  });
}

async function readRange(fd: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await fd.read(buffer, 0, length, offset);
  if (bytesRead !== length) {
    throw new CliError('The file changed while it was being uploaded', EXIT.usage);
  }
  return buffer;
}

async function crc32c(bytes: Uint8Array): Promise<string> {
  const crc = new Crc32c();
  crc.update(bytes);
  return Buffer.from(await crc.digest()).toString('base64');
}

/** Runs `work` on every item, `limit` at once; the first failure stops the others' start. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(
    Array.from({ length: Math.min(limit, items.length) }, worker),
  );
  const rejected = results.find((result) => result.status === 'rejected');
  if (rejected) throw (rejected as PromiseRejectedResult).reason;
}

// --- straight to S3 ---------------------------------------------------------------------

interface HeldPart {
  PartNumber: number;
  Size: number;
  ETag: string;
  Checksum?: string;
}

export function partSizeFor(size: number, wanted: number): number {
  const least = Math.ceil(size / MAX_PARTS / MiB) * MiB;
  return Math.max(wanted, least, MIN_PART_BYTES);
}

async function uploadDirect(job: Job): Promise<Uploaded> {
  const { api, source } = job;
  let state = await earlier(job, 'direct');
  let held: HeldPart[] = [];
  if (state?.via === 'direct') {
    try {
      held = await api.call<HeldPart[]>(
        'GET',
        `/s3/multipart/${encodeURIComponent(state.upload_id)}`,
        { query: { key: state.key } },
      );
    } catch (error) {
      if (!(error instanceof CliError && error.exitCode === EXIT.notFound)) throw error;
      // No such upload: its completion landed before the interruption was seen (the file is
      // then complete, with this size), or it is gone (aborted, swept after a day) and a new
      // one begins.
      const landed = await completedFile(api, state.file_id, source.size);
      await removeState(job.stateFile);
      if (landed) {
        const task = job.start(source.size);
        task.end('done');
        return { resource: landed, sent: 0, held: source.size };
      }
      state = undefined;
    }
  }
  if (state?.via !== 'direct') {
    const partSize = partSizeFor(source.size, job.options.partSize);
    const created = await api.call<{ key: string; uploadId: string; file_id: string }>(
      'POST',
      '/s3/multipart',
      {
        json: {
          filename: job.name,
          type: job.type,
          metadata: { size: source.size, part_size: partSize, checksum_algorithm: 'CRC32C' },
        },
      },
    );
    state = {
      via: 'direct',
      source,
      file_id: created.file_id,
      key: created.key,
      upload_id: created.uploadId,
      part_size: partSize,
    };
    await writeState(job.stateFile, state);
  }
  const { part_size: partSize, key, upload_id: uploadId } = state;
  const count = Math.max(1, Math.ceil(source.size / partSize));
  const heldBy = new Map(held.map((part) => [part.PartNumber, part]));
  const lengthOf = (n: number) => Math.min(partSize, source.size - (n - 1) * partSize);
  const heldBytes = held
    .filter((part) => part.PartNumber <= count && part.Size === lengthOf(part.PartNumber))
    .reduce((sum, part) => sum + part.Size, 0);
  const task = job.start(heldBytes);
  const etags = new Array<string>(count);
  let sent = 0;
  const base = `/s3/multipart/${encodeURIComponent(uploadId)}`;
  try {
    await pool(
      Array.from({ length: count }, (_, i) => i + 1),
      job.options.concurrency,
      async (n) => {
        const bytes = await readRange(job.fd, (n - 1) * partSize, lengthOf(n));
        const checksum = await crc32c(bytes);
        const there = heldBy.get(n);
        // Held with this length and checksum: S3 acknowledged it, it is not sent again.
        if (there && there.Size === bytes.length && there.Checksum === checksum) {
          etags[n - 1] = there.ETag;
          return;
        }
        etags[n - 1] = await retrying(api.signal, async () => {
          // Signed afresh on every try: a retry never meets an expired URL.
          const signed = await api.call<{ url: string; headers: Record<string, string> }>(
            'GET',
            `${base}/${n}`,
            { query: { key, size: bytes.length, checksum_crc32c: checksum } },
          );
          const response = await send(signed.url, {
            method: 'PUT',
            headers: signed.headers,
            body: bytes,
            signal: api.signal,
          });
          if (!response.ok) throw refusal(response.status, await response.text(), `part ${n}`);
          await response.body?.cancel();
          return response.headers.get('etag') ?? '';
        });
        sent += bytes.length;
        task.add(bytes.length);
      },
    );
    // Asked again after it succeeded, the completion answers the file as it was completed.
    const done = await retrying(api.signal, () =>
      api.call<{ resource: FileResource }>('POST', `${base}/complete`, {
        query: { key, thumbnail_sync: job.options.thumbnails ? 1 : undefined },
        json: { parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
    );
    await removeState(job.stateFile);
    task.end('done');
    return { resource: done.resource, sent, held: heldBytes };
  } catch (error) {
    task.end(api.signal.aborted ? 'interrupted' : 'failed');
    throw error;
  }
}

async function completedFile(api: Api, id: string, size: number) {
  const answer = await api
    .call<{ resource: FileResource }>('GET', `/files/${encodeURIComponent(id)}`)
    .catch((error: unknown) => {
      if (error instanceof CliError && error.exitCode === EXIT.notFound) return undefined;
      throw error;
    });
  const resource = answer?.resource;
  return resource && complete(resource) && resource.upload_data?.size === size
    ? resource
    : undefined;
}

// --- Twake's chunks ---------------------------------------------------------------------

async function uploadChunks(job: Job): Promise<Uploaded> {
  const { api, source } = job;
  const chunkSize = CHUNK_BYTES;
  const count = Math.max(1, Math.ceil(source.size / chunkSize));
  const lengthOf = (n: number) => Math.min(chunkSize, source.size - (n - 1) * chunkSize);
  const query = (n: number) => ({
    filename: job.name,
    type: job.type,
    total_size: source.size,
    total_chunks: count,
    chunk_number: n,
    thumbnail_sync: job.options.thumbnails ? 1 : undefined,
  });
  let state = await earlier(job, 'chunks');
  let missing = Array.from({ length: count }, (_, i) => i + 1);
  let last: FileResource | undefined;
  if (state?.via === 'chunks') {
    const fileId = state.file_id;
    // resumable.js's chunk test: 200 when the chunk is stored, 204 when it is still to send.
    const stored = await Promise.all(
      missing.map((n) =>
        api
          .call<{ resource: FileResource } | undefined>('GET', `/files/${fileId}`, {
            query: { chunk_number: n, total_chunks: count },
          })
          .then((answer) => answer !== undefined)
          .catch((error: unknown) => {
            if (error instanceof CliError && error.exitCode === EXIT.notFound) return undefined;
            throw error;
          }),
      ),
    );
    if (stored.includes(undefined)) {
      await removeState(job.stateFile); // the file was deleted since: start over
      state = undefined;
    } else {
      missing = missing.filter((_, i) => !stored[i]);
    }
  }
  const heldBytes = state
    ? Array.from({ length: count }, (_, i) => i + 1)
        .filter((n) => !missing.includes(n))
        .reduce((sum, n) => sum + lengthOf(n), 0)
    : 0;
  const task = job.start(heldBytes);
  let sent = 0;
  try {
    if (!state) {
      // Chunk 1 creates the file; the state names it before any other chunk goes.
      const bytes = await readRange(job.fd, 0, lengthOf(1));
      const created = await api.call<{ resource: FileResource }>('POST', '/files', {
        query: query(1),
        body: bytes,
      });
      last = created.resource;
      state = { via: 'chunks', source, file_id: created.resource.id, chunk_size: chunkSize };
      await writeState(job.stateFile, state);
      missing = missing.filter((n) => n !== 1);
      sent += bytes.length;
      task.add(bytes.length);
    }
    const fileId = state.file_id;
    await pool(missing, job.options.concurrency, async (n) => {
      const bytes = await readRange(job.fd, (n - 1) * chunkSize, lengthOf(n));
      // A chunk sent twice counts once.
      const answer = await retrying(api.signal, () =>
        api.call<{ resource: FileResource }>('POST', `/files/${fileId}`, {
          query: query(n),
          body: bytes,
        }),
      );
      if (complete(answer.resource) || !last) last = answer.resource;
      sent += bytes.length;
      task.add(bytes.length);
    });
    if (!last || !complete(last)) {
      last = (await api.call<{ resource: FileResource }>('GET', `/files/${fileId}`)).resource;
    }
    await removeState(job.stateFile);
    task.end('done');
    return { resource: last, sent, held: heldBytes };
  } catch (error) {
    task.end(api.signal.aborted ? 'interrupted' : 'failed');
    throw error;
  }
}
