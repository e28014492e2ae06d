import { createHash } from 'node:crypto';
import { createDeflate } from 'node:zlib';
import { bearer } from './principals';

export const API = () => {
  const url = process.env['TEST_API_URL'];
  if (!url)
    throw new Error('TEST_API_URL is not set: run through jest (global setup starts the stack)');
  return url;
};

export const filesUrl = (company: string, rest = '') =>
  `${API()}/companies/${encodeURIComponent(company)}/files${rest}`;

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** One request to the offline API; redirects are returned, not followed. */
export async function call<T = Record<string, unknown>>(
  url: string,
  init: RequestInit = {},
): Promise<ApiResponse<T>> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text for the assertion message
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/** An upload (a new file, or into `path`) with `thumbnail_sync=1`: the reply has the thumbnails. */
export function uploadWithThumbnails<T>(
  company: string,
  token: string,
  file: { bytes: Uint8Array; name: string; mime: string },
  path = '',
): Promise<ApiResponse<{ resource: T }>> {
  return call<{ resource: T }>(filesUrl(company, `${path}?thumbnail_sync=1`), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: multipart(file.bytes, file.name, file.mime),
  });
}

export function multipart(bytes: Uint8Array, filename: string, type?: string): FormData {
  const form = new FormData();
  form.append('file', new Blob([bytes], type ? { type } : {}), filename);
  return form;
}

/**
 * A file's bytes as a client fetches them: the download link (`redirect=false`), then its URL.
 * The status is the link's when it is refused, else the object's.
 */
export async function downloadBytes(
  company: string,
  fileId: string,
  token: string,
): Promise<{ status: number; bytes: Buffer }> {
  const link = await call<{ url: string }>(
    filesUrl(company, `/${fileId}/download?redirect=false`),
    { headers: bearer(token) },
  );
  if (link.status !== 200) return { status: link.status, bytes: Buffer.alloc(0) };
  const object = await fetch(link.body.url);
  return { status: object.status, bytes: Buffer.from(await object.arrayBuffer()) };
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every byte value, then pseudo-random bytes: mangling of binary bodies shows at once. */
export function binaryBytes(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed;
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    bytes[i] = i < 256 ? i : state >>> 16;
  }
  return bytes;
}

/**
 * A small valid PDF of `pages` pages (`size` in points, US Letter by default), written by hand
 * so the project ships no binary fixture.
 */
export function tinyPdf(text = 'Serverless Files', pages = 1, size = [612, 792]): Buffer {
  const stream = `BT /F1 24 Tf 72 720 Td (${text}) Tj ET`;
  const pageIds = Array.from({ length: pages }, (_, i) => 5 + i);
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(' ')}] /Count ${pages} >>`,
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    ...pageIds.map(
      () =>
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${size.join(' ')}] /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>`,
    ),
  ];
  let pdf = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((object, i) => {
    offsets.push(pdf.length);
    pdf += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = pdf.length;
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  pdf += offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('');
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, 'latin1');
}

/**
 * A one-page PDF whose content stream, about 1 MB deflated, inflates to `inflatedBytes` of
 * spaces (1 GiB by default): deflated piece by piece, so the bomb is never whole in memory.
 */
export async function inflatingPdf(inflatedBytes = 1024 ** 3): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const pieces: Buffer[] = [];
  deflate.on('data', (piece: Buffer) => pieces.push(piece));
  const ended = new Promise((resolve) => deflate.once('end', resolve));
  const spaces = Buffer.alloc(1024 * 1024, 0x20);
  for (let written = 0; written < inflatedBytes; written += spaces.length) {
    if (!deflate.write(spaces)) await new Promise((resolve) => deflate.once('drain', resolve));
  }
  deflate.end();
  await ended;
  const stream = Buffer.concat(pieces);
  const head =
    '%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n' +
    '2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n' +
    '3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>\nendobj\n' +
    `4 0 obj\n<< /Length ${stream.length} /Filter /FlateDecode >>\nstream\n`;
  // No xref table: pdf.js rebuilds it, as it does for many damaged real files.
  const tail = '\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), stream, Buffer.from(tail, 'latin1')]);
}
