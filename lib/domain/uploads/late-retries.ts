import { conflict, type DomainError } from '../errors';
import type { Content, FileRecord } from '../file';
import { keys } from '../ids';
import type { IncomingData } from '../incoming';
import type { RecordServices, StorageServices } from '../ports';
import type { Principal } from '../principal';
import { revisionRef } from '../refs';
import type { UploadParams } from '../upload-params';

/** A user's retry of a chunk this soon after completion is answered, not refused. */
export const RETRY_AFTER_COMPLETION_MS = 5 * 60_000;

/**
 * A chunk of the upload that just completed, sent again (its reply was lost): the same
 * totals, within minutes. Harmless, so answered rather than refused or taken for the start of
 * an overwrite. A user cannot overwrite, so for a user that is enough. An application can:
 * its chunk is a retry only if it holds the very bytes at its place in the content. Taken for
 * an overwrite, it started an upload of its own that a later overwrite with as many chunks
 * joined, keeping this stale chunk in place of its own.
 */
export async function isLateRetry(
  s: StorageServices,
  record: FileRecord,
  request: { principal: Principal; params: UploadParams; data: IncomingData | undefined },
): Promise<boolean> {
  const { content } = record;
  const { params, data } = request;
  if (!content || !sameTotalsSoonAfter(s, record, params)) return false;
  if (request.principal.kind === 'user') return true;

  const place = chunkPlace(content, params.chunkNumber ?? 0);
  if (!place || data?.bytes.byteLength !== place.length) return false;
  if (place.length > 0) {
    const key = keys.data(record.company_id, record.id, content.revision);
    const stored = await s.blobs.getRange(key, place.start, place.length);
    if (!stored) return false;
    const view = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    if (!view.equals(data.bytes)) return false;
  }
  // An upload started since the record was read (this chunk's siblings, sent at once): the
  // chunk belongs to it. Past the window (the comparison took time), it is an overwrite.
  const since = s.now() - RETRY_AFTER_COMPLETION_MS;
  return (await s.records.markRetried(revisionRef(record, content.revision), since)).ok;
}

/**
 * A chunk with the totals of the content that completed minutes ago, no upload in progress:
 * a late retry of that upload, or the start of an overwrite with as many chunks.
 */
function sameTotalsSoonAfter(s: RecordServices, record: FileRecord, params: UploadParams) {
  const { content } = record;
  if (!content?.completed_at || record.upload || params.chunkNumber === undefined) return false;
  if (content.direct) return false; // its parts are not chunks: nothing to retry here
  const sameTotals =
    params.totalChunks === content.chunks &&
    (!params.totalSize || params.totalSize === content.size);
  return sameTotals && s.now() - content.completed_at < RETRY_AFTER_COMPLETION_MS;
}

/**
 * An application's overwrite cannot start with as many chunks as the content that completed
 * minutes ago once one of that content's chunks was answered as a late retry: the client may
 * have sent a chunk of this overwrite that happened to hold the same bytes (answered, so
 * missing from it), or the retry was the old upload's and the overwrite's own chunk is still
 * to come. Either way this upload could end stuck or mixed; refused until the window ends.
 */
export function checkNoRetriedChunk(s: RecordServices, record: FileRecord, params: UploadParams) {
  if (!record.content?.retried || !sameTotalsSoonAfter(s, record, params)) return;
  throw retriedConflict(s, record.content);
}

export function retriedConflict(s: RecordServices, content: Content): DomainError {
  const endsAt = (content.completed_at ?? 0) + RETRY_AFTER_COMPLETION_MS;
  const wait = Math.max(0, Math.ceil((endsAt - s.now()) / 1000));
  return conflict(
    `A chunk of this file's last upload (total_chunks=${content.chunks}) was sent again after ` +
      `it completed; an overwrite with as many chunks can start in ${wait} s`,
  );
}

/** Where chunk n lies in a completed content, when its chunks were alike. */
function chunkPlace(content: Content, n: number): { start: number; length: number } | undefined {
  const { chunk_size: size, chunks } = content;
  if (!size || chunks < 2 || n < 1 || n > chunks) return undefined;
  const start = (n - 1) * size;
  return { start, length: n < chunks ? size : content.size - start };
}
