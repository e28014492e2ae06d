import { SignJWT } from 'jose';
import type { HttpEvent } from '../../lib/http/request';
import { startFakeSsm, type SsmRequest } from '../helpers/fake-ssm';

// Deployed stages read the JWT secret from an SSM SecureString at run time, here served by a
// GetParameter-only SSM on 127.0.0.1 that the real SDK client reaches.

const PARAMETER = '/serverless-files/test/jwt-secret';
const SECRET = 'a-secret-held-in-ssm-parameter-store-0123456789';
const parameters = new Map([[PARAMETER, SECRET]]);
let ssm: Awaited<ReturnType<typeof startFakeSsm>>;
let requests: SsmRequest[];

beforeAll(async () => {
  ssm = await startFakeSsm(parameters);
  requests = ssm.requests;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SSM: ssm.endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    JWT_SECRET_PARAMETER: PARAMETER,
  });
  delete process.env['JWT_SECRET'];
});

afterAll(async () => {
  await ssm.close();
});

beforeEach(() => {
  requests.length = 0;
  jest.resetModules();
});

/** lib/http/auth as a fresh cold start would load it, under this test's environment. */
const loadAuth = () => import('../../lib/http/auth');

const bearer = async (secret: string) => ({
  headers: {
    authorization: `Bearer ${await new SignJWT({ type: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(secret))}`,
  },
});

test('a token signed with the secret held in SSM is accepted; the secret is read decrypted, once', async () => {
  const { authenticate } = await loadAuth();
  const request = (await bearer(SECRET)) as unknown as HttpEvent;
  await expect(authenticate(request)).resolves.toEqual({ kind: 'user', userId: 'alice' });
  await expect(authenticate(request)).resolves.toEqual({ kind: 'user', userId: 'alice' });
  expect(requests).toEqual([
    { target: 'AmazonSSM.GetParameter', body: { Name: PARAMETER, WithDecryption: true } },
  ]);
});

test('a token signed with any other secret is refused with 401', async () => {
  const { authenticate } = await loadAuth();
  const request = (await bearer('some-other-secret-of-enough-length-0123')) as unknown as HttpEvent;
  await expect(authenticate(request)).rejects.toMatchObject({ kind: 'Unauthorized' });
});

test('a secret too short to be safe fails the request as the service fault it is, not a 401', async () => {
  parameters.set(PARAMETER, 'short');
  try {
    const { authenticate } = await loadAuth();
    const request = (await bearer('short')) as unknown as HttpEvent;
    const error: unknown = await authenticate(request).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toHaveProperty('kind');
    expect((error as Error).message).toContain(`SSM parameter ${PARAMETER} must be at least 32`);
  } finally {
    parameters.set(PARAMETER, SECRET);
  }
});

test('the configuration needs exactly one of the secret and its parameter', async () => {
  const { loadConfig } = await import('../../lib/config');
  const base = { ...process.env };
  expect(() => loadConfig({ ...base, JWT_SECRET: 'x'.repeat(40) })).toThrow(
    'Set exactly one of JWT_SECRET and JWT_SECRET_PARAMETER',
  );
  expect(() => loadConfig({ ...base, JWT_SECRET_PARAMETER: '' })).toThrow(
    'Set exactly one of JWT_SECRET and JWT_SECRET_PARAMETER',
  );
  expect(loadConfig(base).jwtSecret).toEqual({ parameter: PARAMETER });
});
