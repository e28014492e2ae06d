import { webcrypto } from 'node:crypto';
import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { checkJwtSecret, config } from '../config';
import { unauthorized } from '../domain/errors';
import type { Principal } from '../domain/principal';
import type { HttpEvent } from './request';

/** A rotated secret reaches every warm container within this time. */
const SECRET_MAX_AGE_SECONDS = 300;

/**
 * The secret as a WebCrypto HMAC key, imported once per secret value: given raw bytes, jose
 * imports them again on every verification, which was the largest cost of a metadata read.
 */
let imported: { secret: string; key: Promise<webcrypto.CryptoKey> } | undefined;
function hmacKey(secret: string): Promise<webcrypto.CryptoKey> {
  if (imported?.secret !== secret) {
    const key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    imported = { secret, key };
  }
  return imported.key;
}

/** The HS256 key: from the environment, or from SSM (decrypted, cached by Powertools). */
async function signingKey(): Promise<webcrypto.CryptoKey> {
  if ('value' in config.jwtSecret) return hmacKey(config.jwtSecret.value);
  const { parameter } = config.jwtSecret;
  const secret = await getParameter(parameter, {
    decrypt: true,
    maxAge: SECRET_MAX_AGE_SECONDS,
  });
  if (!secret) throw new Error(`SSM parameter ${parameter} is empty`);
  return hmacKey(checkJwtSecret(secret, `SSM parameter ${parameter}`));
}

function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

async function verify(token: string): Promise<JWTPayload> {
  // Outside the try: a secret that cannot be read is the service's fault (500), not the token's.
  const key = await signingKey();
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
    });
    return payload;
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw unauthorized('Access token expired');
    throw unauthorized('Invalid access token');
  }
}

/**
 * Twake access tokens: HS256 with the service secret, `type: "access"`, `sub` the user, or
 * `application_id` for an application. `options.queryToken` admits `?token=` for routes a
 * browser opens from `<a href>` or `<img src>`, which cannot send headers.
 */
export async function authenticate(
  event: HttpEvent,
  options: { queryToken?: boolean } = {},
): Promise<Principal> {
  const header = event.headers['authorization'];
  const token = header
    ? bearerToken(header)
    : options.queryToken
      ? event.queryStringParameters?.['token']
      : undefined;
  if (!token) {
    throw unauthorized(
      header
        ? 'Malformed Authorization header: expected Bearer <token>'
        : 'Missing access token: send Authorization: Bearer <token>',
    );
  }

  const payload = await verify(token);
  if (payload['type'] !== 'access') throw unauthorized('Only access tokens are accepted');
  const applicationId = payload['application_id'];
  if (typeof applicationId === 'string' && applicationId !== '') {
    return { kind: 'application', applicationId };
  }
  if (!payload.sub) throw unauthorized('Invalid access token');
  return { kind: 'user', userId: payload.sub };
}
