import type { FileRecord } from './file';

/**
 * The file lifecycle as one table: each write to a file record is one transition, allowed
 * only while all its guards hold. The record adapters (lib/aws/dynamodb.ts and
 * lib/memory/records.ts) turn the guards into the write's condition, atomically, and report
 * the first that failed; `holds` is their meaning, and the only code that says why a write
 * was refused. The README's architecture section draws the same table.
 */

/** Where a file is, as its record says (`stateOf`). */
export type FileState =
  | 'empty' // created without data
  | 'receiving' // chunks of its first content arriving
  | 'assembling' // every chunk in; one holder of the claim makes the content
  | 'complete'
  | 'overwriting' // complete, and an application's upload of new content under way
  | 'deleting';

export type GuardName =
  | 'absent'
  | 'exists'
  | 'notDeleting'
  | 'noContent'
  | 'noUpload'
  | 'contentIs'
  | 'uploadIs'
  | 'receiving'
  | 'assembling'
  | 'allChunksIn'
  | 'claimFree'
  | 'holdsClaim'
  | 'noRetriedChunk'
  | 'completedSince'
  | 'thumbnailsAwaited'
  | 'thumbnailsFree';

/** What the guards of one write compare with: each guard reads the values it names. */
export interface Bindings {
  /** contentIs, uploadIs: the revision; contentIs with none: no content yet. */
  revision?: string;
  /** holdsClaim: the holder's fencing token. */
  claim?: number;
  /**
   * claimFree, thumbnailsFree: now. completedSince, noRetriedChunk: now less the late-retry
   * window, which is open while the content completed after that.
   */
  at?: number;
  /** noRetriedChunk: the totals of the upload about to start (size 0: not said). */
  chunks?: number;
  size?: number;
}

export type Guard = Bindings & { name: GuardName };

export type Transition =
  | 'create'
  | 'start'
  | 'overwrite'
  | 'restart'
  | 'restartOverwrite'
  | 'recordChunk'
  | 'claim'
  | 'renewClaim'
  | 'release'
  | 'complete'
  | 'cancel'
  | 'replaceContent'
  | 'markRetried'
  | 'beginThumbnails'
  | 'finishThumbnails'
  | 'abandonThumbnails'
  | 'markDeleting';

interface Row {
  /** Where the write is allowed (where a start joins the upload in progress too). */
  from: readonly (FileState | 'absent')[];
  /** Where it leaves the file: 'same' for where it was. */
  to: readonly FileState[] | 'same';
  guards: readonly GuardName[];
}

const LIVE = ['exists', 'notDeleting'] as const;
const UPLOADING = ['receiving', 'assembling', 'overwriting'] as const;
const CLAIMED = ['assembling', 'overwriting'] as const;
const WITH_CONTENT = ['complete', 'overwriting'] as const;
const EXISTING = [
  'empty',
  'receiving',
  'assembling',
  'complete',
  'overwriting',
  'deleting',
] as const;

// prettier-ignore
export const LIFECYCLE: Readonly<Record<Transition, Row>> = {
  create:            { from: ['absent'],                     to: ['empty', 'receiving', 'complete'], guards: ['absent'] },
  start:             { from: ['empty', 'receiving', 'assembling'], to: ['receiving', 'assembling'], guards: [...LIVE, 'noContent'] },
  overwrite:         { from: ['empty', ...UPLOADING, 'complete'], to: UPLOADING,              guards: [...LIVE, 'noRetriedChunk'] },
  restart:           { from: ['receiving'],                  to: ['receiving'],                 guards: [...LIVE, 'noContent', 'uploadIs', 'receiving'] },
  restartOverwrite:  { from: ['receiving', 'overwriting'],   to: ['receiving', 'overwriting'],  guards: [...LIVE, 'uploadIs', 'receiving'] },
  recordChunk:       { from: ['receiving', 'overwriting'],   to: 'same',                        guards: [...LIVE, 'uploadIs', 'receiving'] },
  claim:             { from: UPLOADING,                      to: CLAIMED,                       guards: [...LIVE, 'uploadIs', 'allChunksIn', 'claimFree'] },
  renewClaim:        { from: CLAIMED,                        to: 'same',                        guards: [...LIVE, 'uploadIs', 'holdsClaim'] },
  release:           { from: [...CLAIMED, 'deleting'],       to: ['receiving', 'overwriting', 'deleting'], guards: ['uploadIs', 'holdsClaim'] },
  complete:          { from: CLAIMED,                        to: ['complete'],                  guards: [...LIVE, 'uploadIs', 'assembling', 'holdsClaim'] },
  cancel:            { from: [...UPLOADING, 'deleting'],     to: ['empty', 'complete', 'deleting'], guards: ['uploadIs'] },
  replaceContent:    { from: ['empty', 'complete'],          to: ['complete'],                  guards: [...LIVE, 'noUpload', 'contentIs'] },
  markRetried:       { from: ['complete'],                   to: 'same',                        guards: [...LIVE, 'noUpload', 'contentIs', 'completedSince'] },
  beginThumbnails:   { from: WITH_CONTENT,                   to: 'same',                        guards: [...LIVE, 'contentIs', 'thumbnailsAwaited', 'thumbnailsFree'] },
  finishThumbnails:  { from: WITH_CONTENT,                   to: 'same',                        guards: [...LIVE, 'contentIs', 'thumbnailsAwaited'] },
  abandonThumbnails: { from: [...WITH_CONTENT, 'deleting'],  to: 'same',                        guards: ['contentIs'] },
  markDeleting:      { from: EXISTING,                       to: ['deleting'],                  guards: ['exists'] },
};
// `overwrite` is an application's start: on a file without content it is a first upload.
// `release` and `cancel` hold while a delete is under way: a failed completion gives its
// claim back, and the delete removes what is left.
// Parts of an upload are not transitions: they live beside the record, keyed by revision.

export function stateOf(record: FileRecord | undefined): FileState | 'absent' {
  if (!record) return 'absent';
  if (record.deleting) return 'deleting';
  const { content, upload } = record;
  if (content) return upload ? 'overwriting' : 'complete';
  if (!upload) return 'empty';
  return upload.state;
}

/** The guards of `transition`, bound to the values of this write. */
export function guardsOf(transition: Transition, bindings: Bindings = {}): Guard[] {
  return LIFECYCLE[transition].guards.map((name) => ({ ...bindings, name }));
}

/** What each guard means, on the record as it is (undefined: there is none). */
export function holds(guard: Guard, record: FileRecord | undefined): boolean {
  if (guard.name === 'absent') return record === undefined;
  if (guard.name === 'exists') return record !== undefined;
  if (!record) return false;
  const { content, upload } = record;
  const at = guard.at ?? 0;
  switch (guard.name) {
    case 'notDeleting':
      return !record.deleting;
    case 'noContent':
      return !content;
    case 'noUpload':
      return !upload;
    case 'contentIs':
      return guard.revision === undefined ? !content : content?.revision === guard.revision;
    case 'uploadIs':
      return upload !== undefined && upload.revision === guard.revision;
    case 'receiving':
      return upload?.state === 'receiving';
    case 'assembling':
      return upload?.state === 'assembling';
    case 'allChunksIn':
      return upload !== undefined && upload.chunk_count >= upload.total_chunks;
    case 'claimFree':
      return upload?.state === 'receiving' || (upload?.claim_until ?? Infinity) < at;
    case 'holdsClaim':
      return upload?.claim !== undefined && upload.claim === guard.claim;
    case 'noRetriedChunk':
      // A late retry of the content noted, within its window, with this upload's totals.
      return (
        upload !== undefined ||
        !content?.retried ||
        (content.completed_at !== undefined && content.completed_at <= at) ||
        content.chunks !== guard.chunks ||
        (!!guard.size && content.size !== guard.size)
      );
    case 'completedSince':
      return content?.completed_at !== undefined && content.completed_at > at;
    case 'thumbnailsAwaited':
      return content?.thumbnails_status === 'waiting';
    case 'thumbnailsFree':
      return content?.thumbnail_lease === undefined || content.thumbnail_lease < at;
  }
}

/** The first guard that does not hold; undefined when all do. */
export function firstFailed(guards: readonly Guard[], record: FileRecord | undefined) {
  return guards.find((guard) => !holds(guard, record))?.name;
}

/** A guarded write: the record after it, or the guard that refused it and the record then. */
export type Written =
  | { ok: true; record: FileRecord }
  | { ok: false; failed: GuardName; record: FileRecord | undefined };

/** Refused because the file is gone or being deleted, whatever else would have held. */
export const isGone = (written: Written) =>
  !written.ok && (written.failed === 'exists' || written.failed === 'notDeleting');
