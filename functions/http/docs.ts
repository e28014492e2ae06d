import { gzipSync } from 'node:zlib';
import bundle from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'text' };
import css from 'swagger-ui-dist/swagger-ui.css' with { type: 'text' };
import swaggerUi from 'swagger-ui-dist/package.json' with { type: 'json' };
import page from './docs/page.html' with { type: 'text' };
import start from './docs/start.js' with { type: 'text' };
import { notFound } from '../../lib/domain/errors';
import type { HttpEvent } from '../../lib/http/request';
import type { HttpResult } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';

/**
 * GET /internal/services/files/v1/docs: the OpenAPI document rendered by Swagger UI, whose
 * files ship inside this function (bundled as text by esbuild): the page loads nothing from
 * another origin, and its "Try it out" calls this same service. `…/docs/{asset}` serves the
 * page's script and style sheet, gzipped for clients that take it, cacheable for a day (their
 * URLs carry Swagger UI's version).
 */

interface Asset {
  type: string;
  text: string;
  cacheControl: string;
  gzipped?: Buffer;
}

const ASSETS: Record<string, Asset> = {
  // The page's files are named from its own path (with or without a trailing slash, under any
  // stage): `{{base}}`, filled in per request.
  '': {
    type: 'text/html; charset=utf-8',
    text: page.replaceAll('{{version}}', swaggerUi.version),
    cacheControl: 'public, max-age=300',
  },
  'swagger-ui-bundle.js': {
    type: 'text/javascript; charset=utf-8',
    text: bundle,
    cacheControl: 'public, max-age=86400',
  },
  'swagger-ui.css': {
    type: 'text/css; charset=utf-8',
    text: css,
    cacheControl: 'public, max-age=86400',
  },
  'start.js': {
    type: 'text/javascript; charset=utf-8',
    text: start,
    cacheControl: 'public, max-age=300',
  },
};

// Scripts and styles from this service only; Swagger UI sets inline styles and shows data:
// images; its calls go to this service.
const POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const handler = httpRoute(async (event: HttpEvent): Promise<HttpResult> => {
  const name = event.pathParameters?.['asset'] ?? '';
  const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (!asset) throw notFound(`No such docs file: ${name}`);
  if (name === '') {
    const base = (event.rawPath ?? '').replace(/\/+$/, '');
    return send({ ...asset, text: asset.text.replaceAll('{{base}}', base) }, event);
  }
  return send(asset, event);
});

function send(asset: Asset, event: HttpEvent): HttpResult {
  const headers = {
    'content-type': asset.type,
    'cache-control': asset.cacheControl,
    'content-security-policy': POLICY,
    'x-content-type-options': 'nosniff',
    vary: 'accept-encoding',
  };
  if (!/\bgzip\b/.test(event.headers['accept-encoding'] ?? '')) {
    return { statusCode: 200, headers, body: asset.text };
  }
  asset.gzipped ??= gzipSync(asset.text); // once per warm function, on first use
  return {
    statusCode: 200,
    headers: { ...headers, 'content-encoding': 'gzip' },
    body: asset.gzipped.toString('base64'),
    isBase64Encoded: true,
  };
}
