/**
 * The longest name a client is given to save, in UTF-8 bytes: what ext4, APFS and NTFS take.
 * It also bounds the download redirect: the header travels percent-encoded inside the
 * presigned URL, and a stored name of 1,024 multi-byte characters made a Location of 16-48 KB
 * that clients could not read.
 */
export const MAX_SAVED_NAME_BYTES = 255;

/**
 * `attachment; filename="<ascii>"; filename*=UTF-8''<utf8>` (RFC 6266 / RFC 8187) for any
 * stored name: quotes, backslashes, control characters and path separators never reach the
 * header unescaped, and every client gets either the exact name or a readable ASCII fallback.
 * Names above MAX_SAVED_NAME_BYTES are shortened, extension kept; the metadata keeps them whole.
 */
export function attachmentDisposition(name: string): string {
  const saved = shortened(name || 'download', MAX_SAVED_NAME_BYTES);
  // NFKD can make a character many: the fallback is shortened again.
  const fallback = shortened(asciiFallback(saved), MAX_SAVED_NAME_BYTES);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encodeRfc8187(saved)}`;
}

/** The name cut to `maxBytes` of UTF-8 between characters, its extension (if short) kept. */
export function shortened(name: string, maxBytes: number): string {
  const well = name.toWellFormed();
  if (Buffer.byteLength(well) <= maxBytes) return well;
  const extension = /\.[^.\s]{1,16}$/.exec(well)?.[0] ?? '';
  let room = maxBytes - Buffer.byteLength(extension);
  let stem = '';
  for (const char of well.slice(0, well.length - extension.length)) {
    room -= Buffer.byteLength(char);
    if (room < 0) break;
    stem += char;
  }
  return stem + extension;
}

function asciiFallback(name: string): string {
  const ascii = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // strip the accents NFKD split off: "é" -> "e"
    .replace(/[^\x20-\x7e]/gu, '_') // anything else outside printable ASCII
    .replace(/["\\/]/g, '_')
    .trim();
  return ascii || 'download';
}

function encodeRfc8187(name: string): string {
  // encodeURIComponent leaves !'()* as they are; RFC 8187's attr-char does not allow '()*.
  return encodeURIComponent(name.toWellFormed()).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
