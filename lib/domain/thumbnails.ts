import { RetryLater } from './errors';
import type { Content, FileRecord, Thumbnail, ThumbnailsStatus } from './file';
import { keys, revisionTime } from './ids';
import type { RecordServices, StorageServices, Thumbnailer } from './ports';
import { fileKey, revisionRef, type RevisionRef } from './refs';

/** Lambda runs an S3-triggered function up to 3 times: the third run gives up at once. */
const MAX_ATTEMPTS = 2;
/** An attempt's hold on the thumbnails: longer than makeThumbnails' 60 s timeout. */
const ATTEMPT_LEASE_MS = 90_000;
/** `thumbnail_sync` waits this long at most (Twake's 10 seconds, truly). */
const THUMBNAIL_WAIT_MS = 10_000;
/** Polling of `thumbnail_sync`: consistent reads, so the reply follows the thumbnails closely. */
const POLL_MS = 20;
/** What the waiting request keeps for itself after waiting: writing its reply. */
const REPLY_MARGIN_MS = 1_500;
/** How long an event may precede the record update that makes its revision current. */
const REVISION_WAIT_MS = 5_000;
/** That update lands milliseconds after the bytes: look again soon. */
const REVISION_POLL_MS = 10;

/** A revision that became a file's content. */
export type ContentRef = RevisionRef;

/** Thumbnail status of new content: awaited if it may have previews, else done at once. */
export function initialThumbnails(
  s: RecordServices,
  file: { mime: string; name: string; size: number },
): Pick<Content, 'thumbnails_status' | 'thumbnails'> {
  return {
    thumbnails_status: s.previews.mayPreview(file.mime, file.name, file.size) ? 'waiting' : 'done',
    thumbnails: [],
  };
}

/** The revision a data object key belongs to, if it is one of ours. */
export function contentRefOf(key: string): ContentRef | undefined {
  const match = /^files\/([^/]+)\/([^/]+)\/([^/]+)\/data$/.exec(key);
  if (!match) return undefined;
  const [, companyId = '', fileId = '', revision = ''] = match;
  return { companyId, fileId, revision };
}

/**
 * Renders and stores the thumbnails of one revision, on its ObjectCreated event. Late or
 * duplicated events find the revision replaced or its thumbnails no longer awaited and do
 * nothing; thumbnails have fixed keys, and the record changes only while they are awaited,
 * so a twin run can never add a second set.
 */
export async function makeThumbnails(
  s: StorageServices,
  thumbnailer: Thumbnailer,
  ref: ContentRef,
): Promise<ThumbnailsStatus | undefined> {
  const { revision } = ref;
  const record = await currentRecord(s, ref);
  const content = record?.content;
  if (!record || record.deleting || content?.revision !== revision) return undefined;
  if (content.thumbnails_status !== 'waiting') return undefined;
  const now = s.now();
  const begun = await s.records.beginThumbnails(ref, now, now + ATTEMPT_LEASE_MS);
  if (!begun.ok) {
    // Another run holds them: fail, so that Lambda tries again once that run is over.
    if (begun.failed === 'thumbnailsFree') {
      throw new RetryLater(`another run holds the thumbnails of ${revision}`);
    }
    return undefined; // done, or replaced
  }
  const attempt = begun.record.content?.thumbnail_attempts ?? 1;

  try {
    return await settle(s, thumbnailer, record, content, attempt);
  } catch (error) {
    // Not the file's fault (storage failed): let the next try start at once.
    await s.records.abandonThumbnails(ref);
    throw error;
  }
}

/** Renders (or gives up) and records the outcome, under the attempt's lease. */
async function settle(
  s: StorageServices,
  thumbnailer: Thumbnailer,
  record: FileRecord,
  content: Content,
  attempt: number,
): Promise<ThumbnailsStatus | undefined> {
  const { company_id: companyId, id: fileId } = record;
  const { revision } = content;
  let outcome: { status: 'done' | 'error'; thumbnails: Thumbnail[] };
  if (attempt > MAX_ATTEMPTS) {
    // Earlier runs crashed or timed out; whatever they wrote is not listed anywhere.
    await s.blobs.deletePrefix(keys.thumbnailsPrefix(companyId, fileId, revision));
    outcome = { status: 'error', thumbnails: [] };
  } else if (content.size > s.previews.maxBytes) {
    outcome = { status: 'done', thumbnails: [] };
  } else {
    outcome = await render(s, thumbnailer, record, content);
  }
  const finished = await s.records.finishThumbnails(
    revisionRef(record, revision),
    outcome,
    s.now(),
  );
  if (!finished.ok) {
    if (finished.failed !== 'thumbnailsAwaited') {
      // Replaced or deleted meanwhile: thumbnails written after that belong to nothing.
      await s.blobs.deletePrefix(keys.thumbnailsPrefix(companyId, fileId, revision));
    }
    return undefined;
  }
  return outcome.status;
}

/**
 * The record once `ref.revision` is its content. Bytes are written before the record that
 * points at them, so the event usually arrives a few milliseconds before the revision
 * becomes current: wait that long, not for revisions that were replaced or never completed.
 */
async function currentRecord(s: RecordServices, ref: ContentRef): Promise<FileRecord | undefined> {
  const deadline = s.now() + REVISION_WAIT_MS;
  for (;;) {
    // A file created with its data has no record at all until just after its bytes.
    const record = await s.records.get(ref);
    if (record?.deleting || record?.content?.revision === ref.revision) return record;
    const current = record?.content?.revision;
    if (current && revisionTime(current) > revisionTime(ref.revision)) return record; // late
    if (s.now() >= deadline) {
      // Still being completed (the completing request failed after writing the bytes, and
      // its retry will not write them again): fail, so that Lambda tries again later.
      if (record?.upload?.revision === ref.revision) {
        throw new RetryLater(`${ref.revision} is not current yet`);
      }
      return record;
    }
    await new Promise((resolve) => setTimeout(resolve, REVISION_POLL_MS));
  }
}

async function render(
  s: StorageServices,
  thumbnailer: Thumbnailer,
  record: FileRecord,
  content: Content,
): Promise<{ status: 'done' | 'error'; thumbnails: Thumbnail[] }> {
  const { company_id: companyId, id: fileId } = record;
  const bytes = await s.blobs.get(keys.data(companyId, fileId, content.revision));
  let rendered;
  try {
    rendered = await thumbnailer.render(bytes, content);
  } catch (error) {
    s.warn('could not render thumbnails', { fileId, revision: content.revision, error });
    return { status: 'error', thumbnails: [] };
  }
  const thumbnails: Thumbnail[] = [];
  for (const [index, image] of (rendered ?? []).entries()) {
    const id = `${index}.${image.ext}`;
    await s.blobs.put(
      keys.thumbnail(companyId, fileId, content.revision, id),
      image.bytes,
      image.type,
    );
    thumbnails.push({
      index,
      id,
      type: image.type,
      size: image.bytes.byteLength,
      width: image.width,
      height: image.height,
      ...image.placeholder,
    });
  }
  return { status: 'done', thumbnails };
}

/**
 * `thumbnail_sync`: the request that completed an upload waits for its thumbnails, polling
 * with consistent reads, until they are no longer awaited or 10 s have passed since it
 * started waiting (less if its Lambda has less time left); then it answers with the record
 * as it is.
 */
export async function awaitThumbnails(
  s: RecordServices,
  record: FileRecord,
  budgetMs: number,
): Promise<FileRecord> {
  // 10 s, or less when the request has already used most of its own time (assembling).
  const deadline = s.now() + Math.min(THUMBNAIL_WAIT_MS, budgetMs - REPLY_MARGIN_MS);
  let current = record;
  while (current.content?.thumbnails_status === 'waiting' && s.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, deadline - s.now())));
    const next = await s.records.get(fileKey(record));
    if (!next || next.deleting) return current;
    current = next;
  }
  return current;
}
