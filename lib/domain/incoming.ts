import { lookup } from 'mime-types';
import { tooLarge } from './errors';
import type { Declared } from './file';
import { checkName, clientMime } from './names-and-types';
import type { UploadParams } from './upload-params';

/**
 * File data accepted in one request. Lambda takes 6 MB per synchronous invocation and API
 * Gateway base64-encodes binary bodies, so 4 MiB of data is the most one request can carry.
 */
export const MAX_REQUEST_DATA_BYTES = 4 * 1024 * 1024;

/** Names the fix, for Twake's web client too: as shipped it sends up to 50 MB per request. */
export const TOO_LARGE_FOR_ONE_REQUEST =
  `A request carries at most ${MAX_REQUEST_DATA_BYTES} bytes (4 MiB) of file data; ` +
  'send larger files in chunks of at most 4 MiB (resumable.js, as in Twake: ' +
  'chunkSize: 4 * 1024 * 1024 with forceChunkSize: true)';

/** Bytes of one request, with what the client said about them. */
export interface IncomingData {
  bytes: Uint8Array;
  filename?: string;
  mime?: string;
}

const GENERIC_MIME = 'application/octet-stream';

export function checkRequestData(data: IncomingData): void {
  if (data.bytes.byteLength > MAX_REQUEST_DATA_BYTES) throw tooLarge(TOO_LARGE_FOR_ONE_REQUEST);
}

/** A type a header can carry and that names something, else undefined. */
function usable(raw: string | undefined): string | undefined {
  const mime = raw ? clientMime(raw) : undefined;
  return mime === 'unsafe' || mime === GENERIC_MIME ? undefined : mime;
}

/**
 * Name and type of an upload: what the query says now, else what the create declared, else
 * the multipart part's; a missing or generic type is guessed from the name.
 */
export function nameAndMime(
  params: UploadParams,
  declared: Declared | undefined,
  data: IncomingData,
): { name: string; mime: string } {
  const name =
    params.filename ??
    declared?.name ??
    (data.filename ? checkName(data.filename, 'The file name of the part') : 'untitled');
  // A declared type is checked again: records created before the check may hold any.
  const mime =
    params.mime ?? usable(declared?.mime) ?? usable(data.mime) ?? (lookup(name) || GENERIC_MIME);
  return { name, mime };
}
