import { SignJWT } from 'jose';
import { call, filesUrl, multipart } from '../helpers/api';
import { image } from '../helpers/media';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

/**
 * Every route against every kind of caller: members with each role, an application of the
 * company, a member of another company, and broken credentials. Errors never mention the
 * file's name.
 */
const company = newCompanyId();
const elsewhere = newCompanyId();
const SECRET_NAME = 'quarterly-salaries.png';
const secret = new TextEncoder().encode(process.env['JWT_SECRET']);
const now = () => Math.floor(Date.now() / 1000);

type Caller =
  | 'creator'
  | 'member'
  | 'admin'
  | 'application'
  | 'outsider'
  | 'none'
  | 'expired'
  | 'refresh'
  | 'query only';
const callers: Caller[] = [
  'creator',
  'member',
  'admin',
  'application',
  'outsider',
  'none',
  'expired',
  'refresh',
  'query only',
];
const tokens = new Map<Caller, string>();

beforeAll(async () => {
  const [creator, member, admin, application, outsider] = await Promise.all([
    tokenFor({ company, user: 'cora' }),
    tokenFor({ company, user: 'mel' }),
    tokenFor({ company, user: 'ada', role: 'admin' }),
    tokenFor({ company, application: 'matrix-app' }),
    tokenFor({ company: elsewhere, user: 'otto' }),
  ]);
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT({ type: 'access', sub: 'cora', exp: now() + 600, ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(secret);
  tokens.set('creator', creator);
  tokens.set('member', member);
  tokens.set('admin', admin);
  tokens.set('application', application);
  tokens.set('outsider', outsider);
  tokens.set('expired', await sign({ exp: now() - 5 }));
  tokens.set('refresh', await sign({ type: 'refresh' }));
  tokens.set('query only', creator);
});

/** A complete image of the creator's, with its thumbnail. */
async function completeFile(): Promise<string> {
  const response = await call<{ resource: { id: string } }>(
    filesUrl(company, '?thumbnail_sync=1'),
    {
      method: 'POST',
      headers: bearer(tokens.get('creator') ?? ''),
      body: multipart(await image.png(64, 64), SECRET_NAME, 'image/png'),
    },
  );
  return response.body.resource.id;
}

async function pendingFile(): Promise<string> {
  const response = await call<{ resource: { id: string } }>(
    filesUrl(company, `?filename=${SECRET_NAME}`),
    {
      method: 'POST',
      headers: bearer(tokens.get('creator') ?? ''),
    },
  );
  return response.body.resource.id;
}

function request(caller: Caller, url: string, init: RequestInit = {}) {
  const token = tokens.get(caller);
  if (caller === 'query only')
    return call(`${url}${url.includes('?') ? '&' : '?'}token=${token}`, init);
  return call(url, { ...init, headers: { ...(token ? bearer(token) : {}) } });
}

const unauthenticated = { none: 401, expired: 401, refresh: 401 } as const;

const routes: {
  name: string;
  fresh: () => Promise<string>;
  send: (caller: Caller, fileId: string) => Promise<{ status: number; body: unknown }>;
  expected: Record<Caller, number>;
}[] = [
  {
    name: 'POST /files (create with data)',
    fresh: async () => '',
    send: (caller) =>
      request(caller, filesUrl(company), {
        method: 'POST',
        body: multipart(Buffer.from('x'), 'x.txt'),
      }),
    expected: {
      creator: 200,
      member: 200,
      admin: 200,
      application: 200,
      outsider: 403,
      ...unauthenticated,
      'query only': 401,
    },
  },
  {
    name: "POST /files/{id} (upload into the creator's pending file)",
    fresh: pendingFile,
    send: (caller, fileId) =>
      request(caller, filesUrl(company, `/${fileId}`), {
        method: 'POST',
        body: multipart(Buffer.from('x'), 'x.txt'),
      }),
    expected: {
      creator: 200,
      member: 403,
      admin: 403,
      application: 200,
      outsider: 403,
      ...unauthenticated,
      'query only': 401,
    },
  },
  {
    name: 'POST /files/{id} (overwrite a complete file)',
    fresh: completeFile,
    send: (caller, fileId) =>
      request(caller, filesUrl(company, `/${fileId}`), {
        method: 'POST',
        body: multipart(Buffer.from('x'), 'x.txt'),
      }),
    expected: {
      creator: 403,
      member: 403,
      admin: 403,
      application: 200,
      outsider: 403,
      ...unauthenticated,
      'query only': 401,
    },
  },
  {
    name: 'GET /files/{id}',
    fresh: completeFile,
    send: (caller, fileId) => request(caller, filesUrl(company, `/${fileId}`)),
    expected: {
      creator: 200,
      member: 200,
      admin: 200,
      application: 200,
      outsider: 403,
      ...unauthenticated,
      'query only': 401,
    },
  },
  {
    name: 'GET /files/{id}?resumableChunkNumber=1',
    fresh: completeFile,
    send: (caller, fileId) =>
      request(caller, filesUrl(company, `/${fileId}?resumableChunkNumber=1`)),
    expected: {
      creator: 200,
      member: 200,
      admin: 200,
      application: 204,
      outsider: 403,
      ...unauthenticated,
      'query only': 401,
    },
  },
  {
    name: 'GET /files/{id}/download',
    fresh: completeFile,
    send: (caller, fileId) => request(caller, filesUrl(company, `/${fileId}/download`)),
    expected: {
      creator: 302,
      member: 302,
      admin: 302,
      application: 302,
      outsider: 403,
      ...unauthenticated,
      'query only': 302,
    },
  },
  {
    name: 'GET /files/{id}/thumbnails/0',
    fresh: completeFile,
    send: (caller, fileId) => request(caller, filesUrl(company, `/${fileId}/thumbnails/0`)),
    expected: {
      creator: 302,
      member: 302,
      admin: 302,
      application: 302,
      outsider: 403,
      ...unauthenticated,
      'query only': 302,
    },
  },
  {
    name: 'DELETE /files/{id}',
    fresh: completeFile,
    send: (caller, fileId) =>
      request(caller, filesUrl(company, `/${fileId}`), { method: 'DELETE' }),
    expected: {
      creator: 200,
      member: 403,
      admin: 200,
      application: 200,
      outsider: 403,
      ...unauthenticated,
      'query only': 401,
    },
  },
];

describe.each(routes)('$name', ({ fresh, send, expected }) => {
  test.each(callers)('%s', async (caller) => {
    const fileId = await fresh();
    const response = await send(caller, fileId);
    expect(response.status).toBe(expected[caller]);
    if (response.status >= 400) {
      expect(response.body).toEqual({
        statusCode: response.status,
        error: expect.any(String),
        message: expect.any(String),
      });
      expect(JSON.stringify(response.body)).not.toContain(SECRET_NAME);
    }
  });
});
