import { badRequest } from './errors';

/**
 * A file name from any source (the query, resumable.js's fields, a multipart part) is at most
 * this many UTF-8 bytes, so that records stay small; the download header carries a shortened
 * name when it is longer than a file system takes (content-disposition.ts).
 */
export const MAX_NAME_BYTES = 1024;
const MAX_MIME_LENGTH = 255;

// type "/" subtype: RFC 9110 token characters.
const ESSENCE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/i;
// What an HTTP header value may hold as it is: visible ASCII, space and tab.
const HEADER_SAFE = /^[\t\x20-\x7e]*$/;

export function checkName(name: string, source: string): string {
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_NAME_BYTES) {
    throw badRequest(`${source} must be at most ${MAX_NAME_BYTES} bytes of UTF-8, got ${bytes}`);
  }
  return name;
}

/**
 * A client's MIME type as S3 can store it in Content-Type, or undefined when it names no
 * usable type (then the part's type or the name's extension is used). Twake's web client puts
 * the type in the query unencoded, so the `+` of `image/svg+xml` arrives as a space: a type
 * and subtype hold no spaces, so spaces there are turned back. Characters a header cannot
 * carry (controls, non-ASCII) cannot be made safe without guessing: `unsafe` reports them.
 */
export function clientMime(raw: string): string | undefined | 'unsafe' {
  if (!HEADER_SAFE.test(raw)) return 'unsafe';
  const [essence = '', ...parameters] = raw.trim().split(';');
  const repaired = essence
    .trim()
    .replace(/\s*\/\s*/, '/')
    .replace(/\s+/g, '+');
  if (!ESSENCE.test(repaired)) return undefined;
  const mime = [repaired, ...parameters.map((parameter) => parameter.trim())]
    .filter((part, i) => i === 0 || part !== '')
    .join('; ')
    .toLowerCase();
  return mime.length <= MAX_MIME_LENGTH ? mime : undefined;
}

/** The query's type: a type that cannot be made safe is the client's mistake to hear about. */
export function queryMime(raw: string, param: string): string | undefined {
  const mime = clientMime(raw);
  if (mime === 'unsafe') {
    throw badRequest(`${param} may hold only printable ASCII characters, such as image/png`);
  }
  return mime;
}
