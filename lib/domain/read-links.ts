import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { downloadPath, thumbnailUrl, type FileRecord } from './file';
import type { Principal } from './principal';

/**
 * Signed read links: a download or thumbnail URL that works with no token (an `<img src>`,
 * a navigation), as a capability for one revision of one file. The signature covers the
 * company, the file, the revision, what is read and the expiry, so it cannot be turned into a
 * link to anything else; the revision is not in the URL but read from the record, so the
 * link stops working once the file is overwritten (a new revision) or deleted.
 */
export type ReadTarget = { kind: 'download' } | { kind: 'thumbnail'; index: number };

/** The key links are signed with (lib/secret.ts derives it from the token secret). */
export type LinkKey = KeyObject | Uint8Array;

/** The URL a resource gives for reading one target of its content. */
export type LinkFor = (target: ReadTarget) => string;

/**
 * How a route that answers with resources writes their read links: signed, or (where the
 * deployment lets anyone read by ids, TOKENLESS_READS) the bare route paths, which never expire.
 */
export type LinkSigning = { kind: 'signed'; key: LinkKey; ttlSeconds: number } | { kind: 'ids' };

/** `expires` (Unix seconds) and `signature` (base64url) as they came in the query. */
export interface SignedLink {
  kind: 'link';
  expires: string;
  signature: string;
  key: LinkKey;
}

/**
 * Who reads bytes: a member proven by a token, the holder of a signed link, or (only where the
 * deployment allows reads by ids alone, for unmodified Twake clients) anyone.
 */
export type Reader = Principal | SignedLink | { kind: 'anyone' };

/** Links end on an hour's boundary: a resource read twice in an hour carries the same URLs. */
const EXPIRY_STEP_SECONDS = 3600;

function targetPath(record: FileRecord, target: ReadTarget): string {
  return target.kind === 'download'
    ? downloadPath(record.company_id, record.id)
    : thumbnailUrl(record.company_id, record.id, target.index);
}

function signature(
  key: LinkKey,
  record: FileRecord,
  revision: string,
  target: ReadTarget,
  expires: number,
) {
  // Company ids, file ids (uuids) and revisions hold no newline: fields cannot run together.
  const what = target.kind === 'download' ? 'download' : `thumbnail/${target.index}`;
  return createHmac('sha256', key)
    .update([record.company_id, record.id, revision, what, expires].join('\n'))
    .digest('base64url');
}

/** The read links of a record's content, or undefined when it has none yet. */
export function readLinks(
  links: LinkSigning,
  record: FileRecord,
  now: number,
): LinkFor | undefined {
  const revision = record.content?.revision;
  if (!revision) return undefined;
  if (links.kind === 'ids') return (target) => targetPath(record, target);
  const seconds = Math.floor(now / 1000) + links.ttlSeconds;
  const expires = Math.ceil(seconds / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS;
  return (target) =>
    `${targetPath(record, target)}?expires=${expires}` +
    `&signature=${signature(links.key, record, revision, target, expires)}`;
}

/** The link's expiry in ms when it is well formed and still lives: checked before any read. */
export function linkLives(link: SignedLink, now: number): boolean {
  return /^\d{1,12}$/.test(link.expires) && Number(link.expires) * 1000 > now;
}

/** Whether a link was signed for this target of the record's current content, and still lives. */
export function isValidLink(
  record: FileRecord,
  target: ReadTarget,
  link: SignedLink,
  now: number,
): boolean {
  const revision = record.content?.revision;
  if (!revision || !linkLives(link, now)) return false;
  const expected = Buffer.from(signature(link.key, record, revision, target, Number(link.expires)));
  const given = Buffer.from(link.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
