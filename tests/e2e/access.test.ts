import { SignJWT } from 'jose';
import { API, binaryBytes, call, filesUrl, multipart, sha256 } from '../helpers/api';
import { objectKeys } from '../helpers/aws';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

const companyA = newCompanyId();
const companyB = newCompanyId();
const secret = new TextEncoder().encode(process.env['JWT_SECRET']);
const now = () => Math.floor(Date.now() / 1000);

let creator: string;
let otherMember: string;
let admin: string;
let application: string;
let outsider: string; // member of company B only

async function create(token: string, company = companyA, bytes = binaryBytes(2048)) {
  const response = await call<{ resource: { id: string } }>(filesUrl(company), {
    method: 'POST',
    headers: bearer(token),
    body: multipart(bytes, 'doc.bin'),
  });
  expect(response.status).toBe(200);
  return response.body.resource.id;
}

beforeAll(async () => {
  [creator, otherMember, admin, application, outsider] = await Promise.all([
    tokenFor({ company: companyA, user: 'carol' }),
    tokenFor({ company: companyA, user: 'oscar' }),
    tokenFor({ company: companyA, user: 'ada', role: 'admin' }),
    tokenFor({ company: companyA, application: 'twake-drive-app' }),
    tokenFor({ company: companyB, user: 'bruno' }),
  ]);
});

describe('authentication through the API', () => {
  const sign = (claims: Record<string, unknown>, alg = 'HS256') =>
    new SignJWT({ type: 'access', sub: 'carol', exp: now() + 600, ...claims })
      .setProtectedHeader({ alg })
      .sign(secret);

  test.each([
    ['no token', async () => undefined],
    ['a malformed token', async () => 'abc.def'],
    ['a bad signature', async () => (await sign({})).slice(0, -4) + 'AAAA'],
    [
      'alg: none',
      async () =>
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
          JSON.stringify({ type: 'access', sub: 'carol', exp: now() + 600 }),
        ).toString('base64url')}.`,
    ],
    ['an expired token', async () => sign({ exp: now() - 10 })],
    ['a token not valid yet', async () => sign({ nbf: now() + 600 })],
    ['a refresh token', async () => sign({ type: 'refresh' })],
  ])('%s: 401 in the error shape', async (_, make) => {
    const token = await make();
    const response = await call(filesUrl(companyA, `/${crypto.randomUUID()}`), {
      headers: token ? bearer(token) : {},
    });
    expect(response.status).toBe(401);
    expect(response.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: expect.any(String),
    });
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  test('a valid token of a non-member: 403 on every route', async () => {
    const fileId = await create(creator);
    const stranger = await sign({ sub: 'nobody' });
    const routes: [string, string][] = [
      ['POST', ''],
      ['POST', `/${fileId}`],
      ['GET', `/${fileId}`],
      ['GET', `/${fileId}/download`],
      ['DELETE', `/${fileId}`],
    ];
    for (const [method, path] of routes) {
      const response = await call(filesUrl(companyA, path), { method, headers: bearer(stranger) });
      expect({ method, path, status: response.status }).toEqual({ method, path, status: 403 });
      expect(response.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    }
  });
});

test('the health check answers without a token and says nothing about any company', async () => {
  const health = await call(`${API()}/health`);
  expect(health.status).toBe(200);
  expect(health.body).toEqual({ status: 'ok' });
  expect(health.headers.get('cache-control')).toBe('no-store');
});

describe('company isolation', () => {
  test("a member of B never gets A's file, under either company's path", async () => {
    const fileId = await create(creator);
    for (const path of [`/${fileId}`, `/${fileId}/download`]) {
      const underOwn = await call(filesUrl(companyB, path), { headers: bearer(outsider) });
      expect(underOwn.status).toBe(404);
      const underTheirs = await call(filesUrl(companyA, path), { headers: bearer(outsider) });
      expect(underTheirs.status).toBe(403);
      expect(JSON.stringify(underOwn.body) + JSON.stringify(underTheirs.body)).not.toContain(
        'doc.bin',
      );
    }
    const overwrite = await call(filesUrl(companyB, `/${fileId}`), {
      method: 'POST',
      headers: bearer(outsider),
      body: multipart(Buffer.from('evil'), 'x'),
    });
    expect(overwrite.status).toBe(404);
    const remove = await call(filesUrl(companyB, `/${fileId}`), {
      method: 'DELETE',
      headers: bearer(outsider),
    });
    expect(remove.status).toBe(404);
    expect(await objectKeys(`files/${companyA}/${fileId}/`)).toHaveLength(1);
  });
});

describe('who may write', () => {
  test("another member cannot upload into the creator's pending file", async () => {
    const pending = await call<{ resource: { id: string } }>(filesUrl(companyA), {
      method: 'POST',
      headers: bearer(creator),
    });
    const response = await call(filesUrl(companyA, `/${pending.body.resource.id}`), {
      method: 'POST',
      headers: bearer(otherMember),
      body: multipart(Buffer.from('not yours'), 'x.txt'),
    });
    expect(response).toMatchObject({ status: 403, body: { error: 'Forbidden' } });
    expect(await objectKeys(`files/${companyA}/${pending.body.resource.id}/`)).toEqual([]);
  });

  test('users cannot overwrite a complete file, not even its creator; bytes untouched', async () => {
    const original = binaryBytes(3000, 11);
    const fileId = await create(creator, companyA, original);
    const response = await call(filesUrl(companyA, `/${fileId}`), {
      method: 'POST',
      headers: bearer(creator),
      body: multipart(Buffer.from('replacement'), 'x.txt'),
    });
    expect(response).toMatchObject({ status: 403, body: { error: 'Forbidden' } });
    const link = await call<{ url: string }>(
      filesUrl(companyA, `/${fileId}/download?redirect=false`),
      {
        headers: bearer(creator),
      },
    );
    expect(sha256(Buffer.from(await (await fetch(link.body.url)).arrayBuffer()))).toBe(
      sha256(original),
    );
  });

  test('an application overwrites a complete file as a new revision; the old one is removed', async () => {
    const fileId = await create(creator);
    const [oldKey] = await objectKeys(`files/${companyA}/${fileId}/`);
    const replacement = binaryBytes(5000, 99);
    const response = await call<{ resource: { upload_data: unknown; metadata: unknown } }>(
      filesUrl(companyA, `/${fileId}?filename=v2.bin`),
      { method: 'POST', headers: bearer(application), body: multipart(replacement, 'v2.bin') },
    );
    expect(response.status).toBe(200);
    expect(response.body.resource).toMatchObject({
      upload_data: { size: 5000, chunks: 1 },
      metadata: { name: 'v2.bin' },
    });
    const keys = await objectKeys(`files/${companyA}/${fileId}/`);
    expect(keys).toHaveLength(1);
    expect(keys[0]).not.toBe(oldKey);
    const link = await call<{ url: string }>(
      filesUrl(companyA, `/${fileId}/download?redirect=false`),
      {
        headers: bearer(creator),
      },
    );
    expect(sha256(Buffer.from(await (await fetch(link.body.url)).arrayBuffer()))).toBe(
      sha256(replacement),
    );
  });
});

describe('who may delete', () => {
  test('not another member', async () => {
    const fileId = await create(creator);
    const response = await call(filesUrl(companyA, `/${fileId}`), {
      method: 'DELETE',
      headers: bearer(otherMember),
    });
    expect(response).toMatchObject({ status: 403, body: { error: 'Forbidden' } });
    expect(await objectKeys(`files/${companyA}/${fileId}/`)).toHaveLength(1);
  });

  test.each([
    ['the creator', () => creator],
    ['a company admin', () => admin],
    ['an application of the company', () => application],
  ])('%s may', async (_, token) => {
    const fileId = await create(creator);
    const response = await call(filesUrl(companyA, `/${fileId}`), {
      method: 'DELETE',
      headers: bearer(token()),
    });
    expect(response).toMatchObject({ status: 200, body: { status: 'success' } });
    expect(await objectKeys(`files/${companyA}/${fileId}/`)).toEqual([]);
  });
});
