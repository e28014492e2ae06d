/**
 * Which previewer a file goes to, from its MIME type or (case-insensitive) extension, and by
 * sniffing its first bytes when the type is generic. No renderer is imported here, so the
 * upload functions can use it without loading sharp.
 */
export type PreviewKind = 'image' | 'heif' | 'pdf' | 'video' | 'office';

/** The kinds a deployment previews: office documents need LibreOffice where the thumbnailer runs. */
export interface PreviewedKinds {
  office: boolean;
}

/** Documents LibreOffice converts to PDF, by MIME type (essence). */
const OFFICE_MIMES = new Set([
  'application/msword',
  'application/rtf',
  'text/rtf',
  'application/vnd.ms-excel',
  'application/vnd.ms-powerpoint',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text',
  'application/vnd.oasis.opendocument.spreadsheet',
  'application/vnd.oasis.opendocument.presentation',
]);

const IMAGE_MIMES = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/tiff',
  'image/svg+xml',
]);
/** HEIF images (HEIC: iPhone photos), which sharp's prebuilt libvips cannot decode (heif.ts). */
const HEIF_MIMES = new Set([
  'image/heic',
  'image/heif',
  'image/heic-sequence',
  'image/heif-sequence',
]);
/** ftyp brands of HEVC-coded HEIF; AVIF (AV1 in the same container) is sharp's. */
const HEVC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx']);
const EXTENSIONS: Record<string, PreviewKind> = {
  heic: 'heif',
  heif: 'heif',
  hif: 'heif',
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
  doc: 'office',
  docx: 'office',
  odt: 'office',
  rtf: 'office',
  xls: 'office',
  xlsx: 'office',
  ods: 'office',
  ppt: 'office',
  pptx: 'office',
  odp: 'office',
};

const GENERIC = new Set(['application/octet-stream', 'binary/octet-stream', '']);

export function isGenericMime(mime: string): boolean {
  return GENERIC.has(mime.split(';')[0]?.trim().toLowerCase() ?? '');
}

export function kindOf(mime: string, name: string): PreviewKind | undefined {
  const type = mime.split(';')[0]?.trim().toLowerCase() ?? '';
  if (IMAGE_MIMES.has(type)) return 'image';
  if (HEIF_MIMES.has(type)) return 'heif';
  if (type === 'application/pdf') return 'pdf';
  if (type.startsWith('video/')) return 'video';
  if (OFFICE_MIMES.has(type)) return 'office';
  if (!isGenericMime(type)) return undefined;
  return kindOfExtension(name);
}

/** The kind a file's extension (case-insensitive) names, if any. */
function kindOfExtension(name: string): PreviewKind | undefined {
  if (!name.includes('.')) return undefined;
  const extension = name.toLowerCase().split('.').pop() ?? '';
  return Object.hasOwn(EXTENSIONS, extension) ? EXTENSIONS[extension] : undefined;
}

/** An office document's extension, lower case (LibreOffice picks its import filter by it). */
export function officeExtension(name: string): string | undefined {
  return kindOfExtension(name) === 'office' ? name.toLowerCase().split('.').pop() : undefined;
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
  if (ascii(head, 4, 8) === 'ftyp') return ftypKind(head);
  if (startsWith(head, [0x1a, 0x45, 0xdf, 0xa3])) return 'video'; // Matroska / WebM
  // OLE2 compound files: .doc, .xls, .ppt (and other old Office files LibreOffice opens).
  if (startsWith(head, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return 'office';
  if (ascii(head, 0, 5) === '{\\rtf') return 'office';
  // A zip whose first entry names an office format: OOXML's package parts (Microsoft Office
  // writes [Content_Types].xml first, LibreOffice _rels/.rels), or ODF's uncompressed
  // `mimetype` entry. Other zips are archives.
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04])) {
    const nameLength = (head[26] ?? 0) | ((head[27] ?? 0) << 8);
    const entry = ascii(head, 30, 30 + nameLength);
    if (entry === '[Content_Types].xml' || entry === '_rels/.rels') return 'office';
    if (entry === 'mimetype' && ascii(head, 38, 100).includes('vnd.oasis.opendocument')) {
      return 'office';
    }
  }
  return undefined;
}

/**
 * An ISO media file by its ftyp box: the major brand, then the compatible ones. HEVC-coded
 * HEIF (HEIC) goes to libheif, AVIF and other HEIF to sharp, the rest (MP4, MOV) to ffmpeg.
 */
function ftypKind(head: Uint8Array): PreviewKind {
  const size =
    (((head[0] ?? 0) << 24) | ((head[1] ?? 0) << 16) | ((head[2] ?? 0) << 8) | (head[3] ?? 0)) >>>
    0;
  const brands = [ascii(head, 8, 12)];
  for (let at = 16; at + 4 <= Math.min(size, head.length); at += 4)
    brands.push(ascii(head, at, at + 4));
  const [major = ''] = brands;
  if (HEVC_BRANDS.has(major)) return 'heif';
  if (major.startsWith('avi')) return 'image';
  if (major === 'mif1' || major === 'msf1') {
    return brands.some((brand) => HEVC_BRANDS.has(brand)) && !brands.includes('avif')
      ? 'heif'
      : 'image';
  }
  return 'video';
}

/**
 * Whether an upload should wait for thumbnails: a previewable type, or a generic one that
 * may turn out to be (the thumbnailer sniffs it), within the input limit. Everything else is
 * `done` with no thumbnails at once, so nobody waits for it.
 */
export function mayPreview(
  mime: string,
  name: string,
  size: number,
  { maxBytes, kinds }: { maxBytes: number; kinds: PreviewedKinds },
): boolean {
  if (size === 0 || size > maxBytes) return false;
  const kind = kindOf(mime, name);
  return kind === 'office' ? kinds.office : kind !== undefined || isGenericMime(mime);
}
