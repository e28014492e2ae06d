/**
 * Which previewer a file goes to, from its MIME type or (case-insensitive) extension, and by
 * sniffing its first bytes when the type is generic. No renderer is imported here, so the
 * upload functions can use it without loading sharp.
 */
export type PreviewKind = 'image' | 'pdf' | 'video';

const IMAGE_MIMES = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/tiff',
  'image/svg+xml',
]);
const EXTENSIONS: Record<string, PreviewKind> = {
  jpg: 'image',
  jpeg: 'image',
  png: 'image',
  webp: 'image',
  gif: 'image',
  avif: 'image',
  tif: 'image',
  tiff: 'image',
  svg: 'image',
  pdf: 'pdf',
  mp4: 'video',
  m4v: 'video',
  webm: 'video',
  mov: 'video',
  mkv: 'video',
  avi: 'video',
  mpeg: 'video',
  mpg: 'video',
  ogv: 'video',
  '3gp': 'video',
};

const GENERIC = new Set(['application/octet-stream', 'binary/octet-stream', '']);

export function isGenericMime(mime: string): boolean {
  return GENERIC.has(mime.split(';')[0]?.trim().toLowerCase() ?? '');
}

export function kindOf(mime: string, name: string): PreviewKind | undefined {
  const type = mime.split(';')[0]?.trim().toLowerCase() ?? '';
  if (IMAGE_MIMES.has(type)) return 'image';
  if (type === 'application/pdf') return 'pdf';
  if (type.startsWith('video/')) return 'video';
  if (!isGenericMime(type)) return undefined;
  const extension = name.toLowerCase().split('.').pop() ?? '';
  return name.includes('.') ? EXTENSIONS[extension] : undefined;
}

const startsWith = (bytes: Uint8Array, signature: number[], at = 0) =>
  signature.every((byte, i) => bytes[at + i] === byte);
const ascii = (bytes: Uint8Array, from: number, to: number) =>
  String.fromCharCode(...bytes.subarray(from, to));

/** The kind a file's first bytes reveal, for types and names that say nothing. */
export function sniff(head: Uint8Array): PreviewKind | undefined {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image'; // JPEG
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47])) return 'image'; // PNG
  if (ascii(head, 0, 4) === 'GIF8') return 'image';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return 'image';
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'AVI ') return 'video';
  if (startsWith(head, [0x49, 0x49, 0x2a, 0x00]) || startsWith(head, [0x4d, 0x4d, 0x00, 0x2a])) {
    return 'image'; // TIFF
  }
  if (ascii(head, 0, 5) === '%PDF-') return 'pdf';
  if (ascii(head, 4, 8) === 'ftyp') {
    const brand = ascii(head, 8, 12);
    return brand.startsWith('avi') || brand === 'mif1' ? 'image' : 'video'; // AVIF/HEIF or MP4/MOV
  }
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) return 'video'; // Matroska / WebM
  return undefined;
}

/**
 * Whether an upload should wait for thumbnails: a previewable type, or a generic one that
 * may turn out to be (the thumbnailer sniffs it), within the input limit. Everything else is
 * `done` with no thumbnails at once, so nobody waits for it.
 */
export function mayPreview(mime: string, name: string, size: number, maxBytes: number): boolean {
  if (size === 0 || size > maxBytes) return false;
  return kindOf(mime, name) !== undefined || isGenericMime(mime);
}
