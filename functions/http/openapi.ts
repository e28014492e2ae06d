import { parse } from 'yaml';
import document from '../../openapi.yaml';
import { API_PREFIX } from '../../lib/domain/file';
import type { HttpEvent } from '../../lib/http/request';
import { httpRoute } from '../../lib/http/route';

/** The document, parsed once at cold start (the bundle holds openapi.yaml as text). */
const parsed = parse(document) as { servers?: { url: string; description?: string }[] };

/**
 * The URL this request reached the API at (scheme, host, stage), which clients generated from
 * the document, and the docs page's try-it, then call.
 */
function servingRoot(event: HttpEvent): string {
  const host = event.headers['host'] ?? event.requestContext?.domainName ?? '127.0.0.1';
  const scheme = event.headers['x-forwarded-proto'] ?? 'http';
  const path = event.rawPath ?? API_PREFIX;
  return `${scheme}://${host}${path.slice(0, path.indexOf(API_PREFIX))}${API_PREFIX}`;
}

/**
 * GET /internal/services/files/v1/openapi.json: the service's OpenAPI document, with no
 * token, its first server being the one that serves it. It changes only with a deployment:
 * caches may keep it for minutes (per host).
 */
export const handler = httpRoute((event) => {
  const servers = [
    { url: servingRoot(event), description: 'This service' },
    ...(parsed.servers ?? []),
  ];
  return Promise.resolve({
    statusCode: 200,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'public, max-age=300',
      vary: 'host, x-forwarded-proto',
    },
    body: JSON.stringify({ ...parsed, servers }),
  });
});
