import { parse } from 'yaml';
import document from '../../openapi.yaml';
import { httpRoute } from '../../lib/http/route';

/** The document, parsed once at cold start (the bundle holds openapi.yaml as text). */
const body = JSON.stringify(parse(document));

/**
 * GET /internal/services/files/v1/openapi.json: the service's OpenAPI document, with no
 * token. It changes only with a deployment: caches may keep it for minutes.
 */
export const handler = httpRoute(() =>
  Promise.resolve({
    statusCode: 200,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'public, max-age=300',
    },
    body,
  }),
);
