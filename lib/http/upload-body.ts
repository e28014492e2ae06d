import busboy from 'busboy';
import { badRequest, tooLarge, unsupportedMediaType } from '../domain/errors';
import {
  MAX_REQUEST_DATA_BYTES,
  TOO_LARGE_FOR_ONE_REQUEST,
  type IncomingData,
} from '../domain/incoming';
import type { HttpEvent } from './request';

// Room for multipart boundaries and part headers around 4 MiB of data.
const MAX_BODY_BYTES = MAX_REQUEST_DATA_BYTES + 64 * 1024;

/**
 * Bodies that carry no file: Twake's web client creates a file with `body: '{}'`, which fetch
 * sends as text/plain, and other clients send an empty JSON object or blank text. Anything
 * else may be a file sent the wrong way (`curl --data-binary` labels it a form, a Blob without
 * a type has no Content-Type, a JSON file is JSON): it is refused, never dropped. API Gateway
 * and offline keep binary bodies intact only for the two data types.
 */
function carriesNoFile(mediaType: string, body: Buffer): boolean {
  const textual =
    mediaType === '' ||
    mediaType.startsWith('text/') ||
    mediaType === 'application/json' ||
    mediaType.endsWith('+json') ||
    mediaType === 'application/x-www-form-urlencoded';
  if (!textual) return false;
  const text = body.toString('utf8').trim();
  return text === '' || /^\{\s*\}$/.test(text);
}

/**
 * File data of an upload request: the first file part of a multipart/form-data body (as
 * Twake and resumable.js send it) or a raw application/octet-stream body. Undefined when the
 * request carries no data. The size limit is checked here even under serverless offline,
 * which accepts 10 MiB bodies where Lambda stops at 6 MB.
 */
export async function readUploadBody(event: HttpEvent): Promise<IncomingData | undefined> {
  const contentType = event.headers['content-type'] ?? '';
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  const body =
    event.body === undefined || event.body === null
      ? undefined
      : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');

  if (body && body.byteLength > MAX_BODY_BYTES) throw tooLarge(TOO_LARGE_FOR_ONE_REQUEST);
  if (mediaType === 'multipart/form-data')
    return firstFilePart(body ?? Buffer.alloc(0), contentType);
  if (mediaType === 'application/octet-stream') return { bytes: body ?? Buffer.alloc(0) };
  if (!body || body.byteLength === 0 || carriesNoFile(mediaType, body)) return undefined;
  throw unsupportedMediaType(
    `A body of type ${mediaType || '(none)'} cannot carry file data here: send the file as ` +
      'multipart/form-data (a part named file) or application/octet-stream; to create an ' +
      'empty file, send no body or {}',
  );
}

function firstFilePart(body: Buffer, contentType: string): Promise<IncomingData> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        defParamCharset: 'utf8', // browsers send UTF-8 file names unencoded
        // busboy's limit fires on reaching fileSize; one byte over the limit is still refused later.
        limits: { files: 1, fileSize: MAX_REQUEST_DATA_BYTES + 1, fields: 100, parts: 200 },
      });
    } catch {
      reject(badRequest('Malformed multipart/form-data: missing boundary'));
      return;
    }
    const malformed = () => reject(badRequest('Malformed multipart/form-data body'));
    let file: IncomingData | undefined;
    parser.on('file', (_field, stream, info) => {
      const pieces: Buffer[] = [];
      stream.on('data', (piece: Buffer) => pieces.push(piece));
      stream.on('limit', () => reject(tooLarge(TOO_LARGE_FOR_ONE_REQUEST)));
      // A body cut inside the part fails this stream too: an error without a listener would
      // end the process, and every request it serves with it.
      stream.on('error', malformed);
      stream.on('end', () => {
        // Parsed from one buffer, the data is usually one view of it: no copy then.
        const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
        file = { bytes, filename: info.filename, mime: info.mimeType };
      });
    });
    parser.on('error', malformed);
    parser.on('close', () =>
      file ? resolve(file) : reject(badRequest('The multipart body has no file part')),
    );
    parser.end(body);
  });
}
