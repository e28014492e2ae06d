/**
 * `attachment; filename="<ascii>"; filename*=UTF-8''<utf8>` (RFC 6266 / RFC 8187) for any
 * stored name: quotes, backslashes, control characters and path separators never reach the
 * header unescaped, and every client gets either the exact name or a readable ASCII fallback.
 */
export function attachmentDisposition(name: string): string {
  const exact = name || 'download';
  return `attachment; filename="${asciiFallback(exact)}"; filename*=UTF-8''${encodeRfc8187(exact)}`;
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
