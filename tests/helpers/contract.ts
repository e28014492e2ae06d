import { readFileSync } from 'node:fs';
import path from 'node:path';
import addFormats from 'ajv-formats';
import OpenAPIBackend from 'openapi-backend';
import { parse } from 'yaml';

/**
 * Every exchange the tests have with the API, held to openapi.yaml by an OpenAPI validator
 * (openapi-backend), both ways:
 * - the request is validated against the operation's parameters and JSON body: one the
 *   document does not admit must be refused with a 4xx, since the service must accept
 *   nothing its document rules out;
 * - the response must have a status the operation documents, with a body its schema admits.
 * Installed around fetch for the stack's tests (jest's setupFiles), so that a route drifting
 * from the document fails the test that saw it.
 */

const API_ROOT = '/internal/services/files/v1';

const api = new OpenAPIBackend({
  definition: parse(readFileSync(path.resolve(__dirname, '../../openapi.yaml'), 'utf8')),
  apiRoot: API_ROOT,
  // openapi-backend checks a document against OpenAPI 3.0's schema, which a 3.1 document
  // fails (type arrays, const): quick mode skips that check (Redocly lints the document) and
  // builds the router and the response validators all the same.
  quick: true,
  validate: true,
  customizeAjv: (ajv) => {
    addFormats(ajv);
    return ajv;
  },
});
const ready = api.init();

export interface Exchange {
  method: string;
  url: URL;
  requestHeaders: Record<string, string>;
  /** The request's body when it is JSON (other bodies, multipart and bytes, are not checked). */
  requestBody?: unknown;
  status: number;
  contentType: string | null;
  body: string;
}

/** What in the exchange the document does not admit; empty when it admits it all. */
export async function drift(exchange: Exchange): Promise<string[]> {
  await ready;
  const { method, url, status } = exchange;
  const request = {
    method: method.toLowerCase(),
    path: url.pathname,
    headers: exchange.requestHeaders,
    query: url.search.slice(1),
    body: exchange.requestBody,
  };
  const operation = api.matchOperation(request);
  if (!operation) return []; // not the API's (serverless offline's own 404 for a route it lacks)
  const name = `${method} ${url.pathname} (${operation.operationId})`;
  const documented = Object.keys(operation.responses ?? {});
  if (!documented.includes(String(status))) {
    return [
      `${name} answered ${status}, which the document does not list (${documented.join(', ')})`,
    ];
  }
  // Query parameters the document does not name are ignored, as the document says (the
  // security schemes' `token`, and what clients such as resumable.js add).
  const refused = (api.validateRequest(request, operation).errors ?? []).filter(
    (error) => !(error.keyword === 'additionalProperties' && error.instancePath === '/query'),
  );
  if (refused.length > 0 && status < 400) {
    return refused.map(
      (error) =>
        `${name} accepted (${status}) a request the document does not admit: ` +
        `${error.instancePath || '(request)'} ${error.message ?? ''}`,
    );
  }
  if (!exchange.contentType?.startsWith('application/json') || exchange.body === '') return [];
  const body = JSON.parse(exchange.body) as unknown;
  const result = api.validateResponse(body, operation, status);
  return (result.errors ?? []).map(
    (error) => `${name} ${status}: ${error.instancePath || '(body)'} ${error.message ?? ''}`,
  );
}

/** fetch, with every exchange with the API checked against the document. */
export function checkedFetch(original: typeof fetch, apiUrl: string): typeof fetch {
  const base = new URL(apiUrl);
  return async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin !== base.origin || !url.pathname.startsWith(API_ROOT)) {
      return original(input, init);
    }
    const requestHeaders = Object.fromEntries(request.headers);
    const requestBody = requestHeaders['content-type']?.startsWith('application/json')
      ? jsonOrText(await request.clone().text())
      : undefined;
    const response = await original(input, init);
    const exchange: Exchange = {
      method: request.method,
      url,
      requestHeaders,
      requestBody,
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: await response.clone().text(),
    };
    const problems = await drift(exchange);
    if (problems.length > 0) {
      throw new Error(`The API drifted from openapi.yaml:\n${problems.join('\n')}`);
    }
    return response;
  };
}

/** A JSON body as the validator wants it: parsed, the raw text when it is not JSON, none if empty. */
function jsonOrText(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
