import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { API, call } from '../helpers/api';

/** The document the API serves is openapi.yaml, and it names every route the stack has. */

const documentFile = path.resolve(__dirname, '../../openapi.yaml');

test('GET /openapi.json serves openapi.yaml as JSON, with no token, this service its first server', async () => {
  const served = await call<Record<string, unknown>>(`${API()}/openapi.json`);
  expect(served.status).toBe(200);
  expect(served.headers.get('content-type')).toMatch(/^application\/json/);
  const file = parse(await readFile(documentFile, 'utf8')) as Record<string, unknown>;
  expect(served.body).toEqual({
    ...file,
    servers: [{ url: API(), description: 'This service' }, ...(file['servers'] as unknown[])],
  });
  expect(served.body['openapi']).toBe('3.1.0');
});

test("the document has exactly the routes of serverless.yml's HTTP API", async () => {
  const document = parse(await readFile(documentFile, 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const methods = ['get', 'post', 'put', 'delete', 'patch'];
  const documented = Object.entries(document.paths)
    .flatMap(([route, item]) =>
      Object.keys(item)
        .filter((key) => methods.includes(key))
        .map((method) => `${method.toUpperCase()} /internal/services/files/v1${route}`),
    )
    .sort();
  const stack = parse(
    (await readFile(path.resolve(__dirname, '../../serverless.yml'), 'utf8')).replace(/!\w+/g, ''),
  ) as {
    custom: Record<string, string>;
    functions: Record<string, { events?: { httpApi?: { method: string; path: string } }[] }>;
  };
  const routes = Object.values(stack.functions)
    .flatMap((fn) => fn.events ?? [])
    .flatMap(({ httpApi }) => (httpApi ? [httpApi] : []))
    .map(({ method, path: route }) => {
      const resolved = route.replace(
        /\$\{self:custom\.(\w+)\}/,
        (_, name: string) => stack.custom[name]!,
      );
      return `${method} ${resolved}`;
    })
    .sort();
  expect(documented).toEqual(routes);
});
