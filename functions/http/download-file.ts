import { downloadLink } from '../../lib/domain/files';
import { readerOf } from '../../lib/http/readers';
import { fileRoute, isOff, query, type HttpEvent } from '../../lib/http/request';
import { json, redirect } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { services } from '../../lib/services/storage';

/**
 * GET /companies/{company_id}/files/{file_id}/download: 302 to a short-lived presigned S3 URL,
 * or `{url, expires_at}` with `redirect=false`. Not cached: an overwrite retires the object.
 */
export const handler = httpRoute(async (event: HttpEvent) => {
  const reader = await readerOf(event);
  const link = await downloadLink(services, { reader, ...fileRoute(event) });
  return isOff(query(event)['redirect']) ? json(200, link) : redirect(link.url);
});
