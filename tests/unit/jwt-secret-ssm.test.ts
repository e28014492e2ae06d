import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import type { HttpEvent } from '../../lib/http/request';

// Deployed stages read the JWT secret from an SSM SecureString at run time. No SSM emulator
// runs here, so this test serves SSM's JSON protocol (GetParameter only) on 127.0.0.1 and
// points the real SDK client at it with AWS_ENDPOINT_URL_SSM.

const PARAMETER = '/serverless-files/test/jwt-secret';
let served = 'a-secret-held-in-ssm-parameter-store-0123456789';
const requests: Array<{ target: string; body: { Name: string; WithDecryption?: boolean } }> = [];
let server: Server;

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (piece: Buffer) => (body += piece.toString()));
    request.on('end', () => {
      const parsed = JSON.parse(body) as { Name: string; WithDecryption?: boolean };
      requests.push({ target: String(request.headers['x-amz-target']), body: parsed });
      response.setHeader('content-type', 'application/x-amz-json-1.1');
      if (parsed.Name !== PARAMETER) {
        response.statusCode = 400;
        response.end(JSON.stringify({ __type: 'ParameterNotFound', message: parsed.Name }));
        return;
      }
      response.end(
        JSON.stringify({
          Parameter: { Name: PARAMETER, Type: 'SecureString', Value: served, Version: 1 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    JWT_SECRET_PARAMETER: PARAMETER,
  });
  delete process.env['JWT_SECRET'];
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
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
  const request = (await bearer(served)) as unknown as HttpEvent;
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
  served = 'short';
  try {
    const { authenticate } = await loadAuth();
    const request = (await bearer('short')) as unknown as HttpEvent;
    const error: unknown = await authenticate(request).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toHaveProperty('kind');
    expect((error as Error).message).toContain(`SSM parameter ${PARAMETER} must be at least 32`);
  } finally {
    served = 'a-secret-held-in-ssm-parameter-store-0123456789';
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
