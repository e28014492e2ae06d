import { badRequest } from '../domain/errors';
import { checkName, queryMime } from '../domain/names-and-types';
import { checkChunkNumber, MAX_CHUNKS, type UploadParams } from '../domain/upload-params';

type Query = Readonly<Record<string, string | undefined>>;

function pick(query: Query, alias: string, name: string): [string, string] | undefined {
  const aliased = query[alias];
  if (aliased !== undefined && aliased !== '') return [alias, aliased];
  const plain = query[name];
  if (plain !== undefined && plain !== '') return [name, plain];
  return undefined;
}

function wholeNumber(query: Query, alias: string, name: string): number | undefined {
  const found = pick(query, alias, name);
  if (!found) return undefined;
  const [param, raw] = found;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value)) {
    throw badRequest(`${param} must be a whole number, got "${raw.slice(0, 40)}"`);
  }
  return value;
}

/**
 * An upload's query parameters, in Twake's names or resumable.js's aliases (which win when
 * both are sent); a malformed number or name is a 400 naming the parameter.
 */
export function parseUploadParams(query: Query): UploadParams {
  const nameParam = pick(query, 'resumableFilename', 'filename');
  const filename = nameParam && checkName(nameParam[1], nameParam[0]);
  // A type that names nothing usable is left to the part's type or the name's extension.
  const mimeParam = pick(query, 'resumableType', 'type');
  const mime = mimeParam && queryMime(mimeParam[1], mimeParam[0]);

  const totalChunks = wholeNumber(query, 'resumableTotalChunks', 'total_chunks');
  if (totalChunks !== undefined && (totalChunks < 1 || totalChunks > MAX_CHUNKS)) {
    throw badRequest(`total_chunks must be between 1 and ${MAX_CHUNKS}, got ${totalChunks}`);
  }

  const chunkNumber = wholeNumber(query, 'resumableChunkNumber', 'chunk_number');
  if (chunkNumber !== undefined) checkChunkNumber(chunkNumber, totalChunks ?? MAX_CHUNKS);

  return {
    filename,
    mime,
    totalChunks,
    totalSize: wholeNumber(query, 'resumableTotalSize', 'total_size'),
    chunkNumber,
    thumbnailSync: thumbnailSync(query),
  };
}

/** `thumbnail_sync=1` (or `true`): the request that completes a file waits for its thumbnails. */
export function thumbnailSync(query: Query): boolean {
  const sync = query['thumbnail_sync']?.toLowerCase();
  return sync === '1' || sync === 'true';
}
