import { getFile, testChunk } from '../../lib/domain/files';
import { parseUploadParams } from '../../lib/http/upload-params';
import { authenticate } from '../../lib/http/auth';
import { linkSigning } from '../../lib/http/readers';
import { fileRoute, query, type HttpEvent } from '../../lib/http/request';
import { json, noContent } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { services } from '../../lib/services/records';

/**
 * GET /companies/{company_id}/files/{file_id}: the file's metadata as `{resource}`. With
 * `resumableChunkNumber` (or `chunk_number`) it is resumable.js's chunk test instead:
 * 200 when that chunk is stored, 204 when it must be sent.
 */
export const handler = httpRoute(async (event: HttpEvent) => {
  const principal = await authenticate(event);
  const { chunkNumber } = parseUploadParams(query(event));
  const ref = { principal, ...fileRoute(event), links: await linkSigning() };
  if (chunkNumber === undefined) return json(200, { resource: await getFile(services, ref) });
  const resource = await testChunk(services, { ...ref, chunkNumber });
  return resource ? json(200, { resource }) : noContent();
});
