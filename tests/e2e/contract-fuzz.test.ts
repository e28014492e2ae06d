import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { sample } from 'openapi-sampler';
import { parse } from 'yaml';
import { API, binaryBytes, call, filesUrl, multipart } from '../helpers/api';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

/**
 * Requests generated from openapi.yaml, valid (values sampled from the document's schemas)
 * and not (a value replaced by one of a set of hostile strings), sent to the running stack:
 * every answer must be documented for its operation (the fetch wrapper of
 * tests/helpers/contract.ts checks the status and the body) and none may be a 5xx. A bounded
 * run with a fixed seed, its counts printed.
 */

interface Parameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  schema?: object;
  $ref?: string;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema?: object }> } | { $ref: string };
}
type PathItem = Record<string, Operation> & { parameters?: Parameter[] };
const document = parse(readFileSync(path.resolve(__dirname, '../../openapi.yaml'), 'utf8')) as {
  paths: Record<string, PathItem>;
  components: {
    parameters: Record<string, Parameter>;
    requestBodies: Record<string, { content: Record<string, { schema?: object }> }>;
  };
};

const resolve = (parameter: Parameter): Parameter =>
  parameter.$ref ? document.components.parameters[parameter.$ref.split('/').pop()!]! : parameter;

const METHODS = ['get', 'post', 'delete'] as const;
const operations = Object.entries(document.paths).flatMap(([route, item]) =>
  METHODS.filter((method) => item[method]).map((method) => {
    const operation = item[method]!;
    const parameters = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map(resolve);
    const body =
      operation.requestBody && '$ref' in operation.requestBody
        ? document.components.requestBodies[operation.requestBody.$ref.split('/').pop()!]!
        : operation.requestBody;
    return { route, method, id: operation.operationId, parameters, body };
  }),
);

const HOSTILE = [
  '',
  '0',
  '-1',
  '10001',
  'abc',
  '%00',
  '..%2F..',
  '1e400',
  'true',
  'a'.repeat(1500),
  '\u202e',
  'files/x/../data',
];

const company = newCompanyId();
let token: string;
let fileId: string;
let upload: { key: string; uploadId: string };

beforeAll(async () => {
  token = await tokenFor({ company, user: 'sampled' });
  const created = await call<{ resource: { id: string } }>(filesUrl(company), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(binaryBytes(3000, 5), 'sampled.bin', 'application/octet-stream'),
  });
  fileId = created.body.resource.id;
  const started = await call<{ key: string; uploadId: string }>(
    `${API()}/companies/${company}/s3/multipart`,
    {
      method: 'POST',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'sampled-direct.bin' }),
    },
  );
  upload = started.body;
});

/** A value for a parameter: a real one where the stack has it, else sampled from its schema. */
function valueOf(parameter: Parameter): string {
  switch (parameter.name) {
    case 'company_id':
      return company;
    case 'file_id':
      return fileId;
    case 'upload_id':
      return upload.uploadId;
    case 'key':
      return upload.key;
    case 'index':
      return '0';
    case 'part_number':
      return '1';
    default: {
      const sampled = parameter.schema
        ? sample(parameter.schema as never, { quiet: true }, document)
        : 'x';
      return String(sampled ?? 'x');
    }
  }
}

test('requests generated from the document get documented answers, never a 5xx', async () => {
  const statuses = new Map<string, number>();
  let requests = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.nat({ max: operations.length - 1 }),
      fc.array(fc.constantFrom(...HOSTILE), { minLength: 0, maxLength: 3 }),
      fc.nat(),
      fc.constantFrom('bearer', 'bearer', 'bearer', 'none', 'garbage'),
      fc.boolean(),
      async (which, hostile, seed, auth, withBody) => {
        const operation = operations[which]!;
        const values = new Map(operation.parameters.map((p) => [p.name, valueOf(p)]));
        // Invalid requests: some values replaced by hostile ones.
        const names = [...values.keys()];
        for (const [i, value] of hostile.entries()) {
          const name = names[(seed + i) % Math.max(1, names.length)];
          if (name) values.set(name, value);
        }
        let route = operation.route;
        const query = new URLSearchParams();
        for (const parameter of operation.parameters) {
          const value = values.get(parameter.name) ?? '';
          if (parameter.in === 'path') {
            route = route.replace(`{${parameter.name}}`, encodeURIComponent(value) || 'x');
          } else if (parameter.required || seed % 2 === 0) {
            query.set(parameter.name, value);
          }
        }
        const headers: Record<string, string> =
          auth === 'bearer'
            ? bearer(token)
            : auth === 'garbage'
              ? { authorization: 'Bearer not.a.token' }
              : {};
        let body: string | FormData | undefined;
        const json = operation.body?.content['application/json']?.schema;
        if (withBody && operation.method === 'post') {
          if (json && !operation.body?.content['multipart/form-data']) {
            headers['content-type'] = 'application/json';
            body = JSON.stringify(sample(json as never, { quiet: true }, document));
          } else {
            body = multipart(binaryBytes(seed % 5000, seed % 97), 'sampled.bin');
          }
        }
        const qs = query.toString();
        const response = await call(`${API()}${route}${qs ? `?${qs}` : ''}`, {
          method: operation.method.toUpperCase(),
          headers,
          body,
        });
        requests++;
        const key = `${operation.id} ${response.status}`;
        statuses.set(key, (statuses.get(key) ?? 0) + 1);
        return response.status < 500;
      },
    ),
    { numRuns: 300, seed: 15_16, endOnFailure: true },
  );
  const table = [...statuses].sort(([a], [b]) => a.localeCompare(b));
  process.stdout.write(
    `contract fuzz: ${requests} requests over ${operations.length} operations\n` +
      table.map(([key, count]) => `  ${key}: ${count}`).join('\n') +
      '\n',
  );
  expect(requests).toBe(300);
  expect(new Set(table.map(([key]) => key.split(' ')[0])).size).toBe(operations.length);
});
