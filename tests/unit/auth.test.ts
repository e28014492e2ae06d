import { SignJWT, UnsecuredJWT } from 'jose';
import type { HttpEvent } from '../../lib/http/request';
import { authenticate } from '../../lib/http/auth';
import { DomainError } from '../../lib/domain/errors';

const secret = new TextEncoder().encode(process.env['JWT_SECRET']);
const now = () => Math.floor(Date.now() / 1000);

function event(headers: Record<string, string>, query?: Record<string, string>): HttpEvent {
  return { headers, queryStringParameters: query } as unknown as HttpEvent;
}

async function token(
  claims: Record<string, unknown> = {},
  { alg = 'HS256', key = secret }: { alg?: string; key?: Uint8Array } = {},
): Promise<string> {
  return new SignJWT({ type: 'access', ...claims })
    .setProtectedHeader({ alg })
    .setSubject('alice')
    .setExpirationTime(now() + 600)
    .sign(key);
}

async function rejection(request: HttpEvent, options?: { queryToken?: boolean }) {
  const error = await authenticate(request, options).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).kind).toBe('Unauthorized');
  return (error as DomainError).message;
}

describe('authenticate', () => {
  test('a user access token', async () => {
    await expect(
      authenticate(event({ authorization: `Bearer ${await token()}` })),
    ).resolves.toEqual({
      kind: 'user',
      userId: 'alice',
    });
  });

  test('an application token (application_id claim)', async () => {
    const appToken = await token({ application_id: 'app-1' });
    await expect(authenticate(event({ authorization: `Bearer ${appToken}` }))).resolves.toEqual({
      kind: 'application',
      applicationId: 'app-1',
    });
  });

  test('the scheme is case-insensitive', async () => {
    await expect(
      authenticate(event({ authorization: `bearer ${await token()}` })),
    ).resolves.toMatchObject({
      kind: 'user',
    });
  });

  test('no token', async () => {
    expect(await rejection(event({}))).toMatch(/Missing access token/);
  });

  test.each([
    ['malformed', 'Bearer not.a.jwt'],
    ['not a bearer scheme', 'Basic YWxpY2U6c2VjcmV0'],
    ['empty bearer', 'Bearer '],
  ])('%s', async (_, header) => {
    await rejection(event({ authorization: header }));
  });

  test('bad signature', async () => {
    const forged = await token({}, { key: new TextEncoder().encode('x'.repeat(40)) });
    expect(await rejection(event({ authorization: `Bearer ${forged}` }))).toBe(
      'Invalid access token',
    );
  });

  test('alg: none', async () => {
    const unsigned = new UnsecuredJWT({ type: 'access', sub: 'alice' })
      .setExpirationTime(now() + 600)
      .encode();
    await rejection(event({ authorization: `Bearer ${unsigned}` }));
  });

  test('another algorithm with the same secret (HS512)', async () => {
    const hs512 = await token({}, { alg: 'HS512' });
    await rejection(event({ authorization: `Bearer ${hs512}` }));
  });

  test('expired', async () => {
    const expired = await new SignJWT({ type: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(now() - 60)
      .sign(secret);
    expect(await rejection(event({ authorization: `Bearer ${expired}` }))).toBe(
      'Access token expired',
    );
  });

  test('not yet valid', async () => {
    const early = await token({ nbf: now() + 3600 });
    await rejection(event({ authorization: `Bearer ${early}` }));
  });

  test('without an expiry', async () => {
    const forever = await new SignJWT({ type: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .sign(secret);
    await rejection(event({ authorization: `Bearer ${forever}` }));
  });

  test.each([['refresh'], [undefined], ['ACCESS']])('type %p', async (type) => {
    const other = await token({ type });
    expect(await rejection(event({ authorization: `Bearer ${other}` }))).toBe(
      'Only access tokens are accepted',
    );
  });

  test('server_request in a token grants nothing extra', async () => {
    const claims = await token({ server_request: true });
    await expect(authenticate(event({ authorization: `Bearer ${claims}` }))).resolves.toEqual({
      kind: 'user',
      userId: 'alice',
    });
  });

  test('?token= only where the route allows it', async () => {
    const viaQuery = event({}, { token: await token() });
    await rejection(viaQuery);
    await expect(authenticate(viaQuery, { queryToken: true })).resolves.toMatchObject({
      kind: 'user',
    });
  });

  test('the header wins over the query', async () => {
    const request = event(
      { authorization: `Bearer ${await token({ application_id: 'app-9' })}` },
      { token: await token() },
    );
    await expect(authenticate(request, { queryToken: true })).resolves.toMatchObject({
      kind: 'application',
    });
  });
});

describe('a token verified once (each request of a client sends the same one)', () => {
  afterEach(() => jest.useRealTimers());

  test('is refused once it expires, however often it was accepted before', async () => {
    jest.useFakeTimers({
      now: Date.now(),
      doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'],
    });
    const short = await new SignJWT({ type: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(now() + 60)
      .sign(secret);
    const request = event({ authorization: `Bearer ${short}` });
    for (let i = 0; i < 3; i++)
      await expect(authenticate(request)).resolves.toMatchObject({ kind: 'user' });
    jest.setSystemTime(Date.now() + 61_000);
    expect(await rejection(request)).toBe('Access token expired');
  });

  test('is not valid before its nbf, even once it was seen', async () => {
    jest.useFakeTimers({
      now: Date.now(),
      doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'],
    });
    const later = await token({ nbf: now() + 30 });
    const request = event({ authorization: `Bearer ${later}` });
    expect(await rejection(request)).toBe('Invalid access token');
    jest.setSystemTime(Date.now() + 31_000);
    await expect(authenticate(request)).resolves.toMatchObject({ kind: 'user' });
    jest.setSystemTime(Date.now() - 60_000);
    expect(await rejection(request)).toBe('Invalid access token');
  });

  test('an altered copy of an accepted token is checked, and refused', async () => {
    const accepted = await token();
    await authenticate(event({ authorization: `Bearer ${accepted}` }));
    const [header, payload] = accepted.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(43)}`;
    expect(await rejection(event({ authorization: `Bearer ${forged}` }))).toBe(
      'Invalid access token',
    );
  });
});
