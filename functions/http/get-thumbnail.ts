import { thumbnailLink } from '../../lib/domain/files';
import { readerOf } from '../../lib/http/readers';
import { fileRoute, isOff, query, type HttpEvent } from '../../lib/http/request';
import { json, redirect } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { services } from '../../lib/services/storage';

/**
 * GET /companies/{company_id}/files/{file_id}/thumbnails/{index}: 302 to the presigned
 * thumbnail, or `{url, expires_at}` with `redirect=false`. A thumbnail never changes under
 * its URL (a new revision has new keys), so browsers may reuse the redirect while it lives.
 */
export const handler = httpRoute(async (event: HttpEvent) => {
  const reader = await readerOf(event);
  const link = await thumbnailLink(services, {
    reader,
    ...fileRoute(event),
    index: event.pathParameters?.['index'],
  });
  const cache = `private, max-age=${link.max_age}`;
  const body = { url: link.url, expires_at: link.expires_at };
  return isOff(query(event)['redirect']) ? json(200, body, cache) : redirect(link.url, cache);
});
