import { readFileSync } from 'node:fs';
import path from 'node:path';
import addFormats from 'ajv-formats';
import OpenAPIBackend from 'openapi-backend';
import { parse } from 'yaml';

/**
 * Every exchange the tests have with the API, held to openapi.yaml by an OpenAPI validator
 * (openapi-backend): a request for a documented operation must get a status that operation
 * documents, with a body its schema admits. Installed around fetch for the stack's tests
 * (jest's setupFiles), so that a route drifting from the document fails the test that saw it.
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
  status: number;
  contentType: string | null;
  body: string;
}

/** What in the exchange the document does not admit; empty when it admits it all. */
export async function drift(exchange: Exchange): Promise<string[]> {
  await ready;
  const { method, url, status } = exchange;
  const operation = api.matchOperation({
    method: method.toLowerCase(),
    path: url.pathname,
    headers: {},
    query: Object.fromEntries(url.searchParams),
  });
  if (!operation) return []; // not the API's (serverless offline's own 404 for a route it lacks)
  const name = `${method} ${url.pathname} (${operation.operationId})`;
  const documented = Object.keys(operation.responses ?? {});
  if (!documented.includes(String(status))) {
    return [
      `${name} answered ${status}, which the document does not list (${documented.join(', ')})`,
    ];
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
    const response = await original(input, init);
    const url = new URL(request.url);
    if (url.origin !== base.origin || !url.pathname.startsWith(API_ROOT)) return response;
    const exchange: Exchange = {
      method: request.method,
      url,
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
