import { createHmac, timingSafeEqual } from 'node:crypto';
import { API_PREFIX, type FileRecord, type LinkFor } from './file';
import type { Principal } from './principal';

/**
 * Signed read links: a download or thumbnail URL that works with no token (an `<img src>`,
 * a navigation), as a capability for one revision of one file. The signature covers the
 * company, the file, the revision, what is read and the expiry, so it cannot be turned into a
 * link to anything else; the revision is not in the URL but read from the record, so the
 * link stops working once the file is overwritten (a new revision) or deleted.
 */
export type ReadTarget = Parameters<LinkFor>[0];

/** What a route that returns resources needs to sign their links. */
export interface LinkSigning {
  key: Uint8Array;
  ttlSeconds: number;
}

/** `expires` (Unix seconds) and `signature` (base64url) as they came in the query. */
export interface SignedLink {
  kind: 'link';
  expires: string;
  signature: string;
  key: Uint8Array;
}

/**
 * Who reads bytes: a member proven by a token, the holder of a signed link, or (only where the
 * deployment allows reads by ids alone, for unmodified Twake clients) anyone.
 */
export type Reader = Principal | SignedLink | { kind: 'anyone' };

/** Links end on an hour's boundary: a resource read twice in an hour carries the same URLs. */
const EXPIRY_STEP_SECONDS = 3600;

function signature(
  key: Uint8Array,
  record: FileRecord,
  revision: string,
  target: ReadTarget,
  expires: number,
) {
  const what = target.kind === 'download' ? 'download' : `thumbnail/${target.index}`;
  return createHmac('sha256', key)
    .update([record.company_id, record.id, revision, what, expires].join('\n'))
    .digest('base64url');
}

function targetPath(record: FileRecord, target: ReadTarget): string {
  const file = `${API_PREFIX}/companies/${record.company_id}/files/${record.id}`;
  return target.kind === 'download' ? `${file}/download` : `${file}/thumbnails/${target.index}`;
}

/** The signed links of a record's content, or undefined when it has none yet. */
export function readLinks(
  { key, ttlSeconds }: LinkSigning,
  record: FileRecord,
  now: number,
): LinkFor | undefined {
  const revision = record.content?.revision;
  if (!revision) return undefined;
  const seconds = Math.floor(now / 1000) + ttlSeconds;
  const expires = Math.ceil(seconds / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS;
  return (target) =>
    `${targetPath(record, target)}?expires=${expires}` +
    `&signature=${signature(key, record, revision, target, expires)}`;
}

/** Whether a link was signed for this target of the record's current content, and still lives. */
export function isValidLink(
  record: FileRecord,
  target: ReadTarget,
  link: SignedLink,
  now: number,
): boolean {
  const revision = record.content?.revision;
  if (!revision || !/^\d{1,12}$/.test(link.expires)) return false;
  const expires = Number(link.expires);
  if (expires * 1000 <= now) return false;
  const expected = Buffer.from(signature(link.key, record, revision, target, expires));
  const given = Buffer.from(link.signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
