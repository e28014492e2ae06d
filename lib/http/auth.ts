import { webcrypto } from 'node:crypto';
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { unauthorized } from '../domain/errors';
import type { Principal } from '../domain/principal';
import { jwtSecret } from '../secret';
import type { HttpEvent } from './request';

/** Tokens a warm function has verified, by their whole text (signature included). */
const MAX_VERIFIED = 1000;

/**
 * The secret as a WebCrypto HMAC key, imported once per secret value (given raw bytes, jose
 * imports them again on every verification), and the tokens verified with it: a client sends
 * the same token with every request, and its signature needs checking once. A token's times
 * are checked on every request; a new secret starts afresh.
 */
let imported:
  | { secret: string; key: Promise<webcrypto.CryptoKey>; verified: Map<string, JWTPayload> }
  | undefined;
function withSecret(secret: string) {
  if (imported?.secret !== secret) {
    const key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    );
    imported = { secret, key, verified: new Map() };
  }
  return imported;
}

/** A verified token's claims, while its `exp` and `nbf` still admit it (jose's own checks). */
function stillValid(payload: JWTPayload | undefined): JWTPayload | undefined {
  const now = Math.floor(Date.now() / 1000);
  if (!payload || (payload.exp ?? 0) <= now || (payload.nbf ?? 0) > now) return undefined;
  return payload;
}

function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

async function verify(token: string): Promise<JWTPayload> {
  // Outside the try: a secret that cannot be read is the service's fault (500), not the token's.
  const { key, verified } = withSecret(await jwtSecret());
  const known = stillValid(verified.get(token));
  if (known) return known;
  try {
    const { payload } = await jwtVerify(token, await key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
    });
    if (verified.size >= MAX_VERIFIED) verified.clear();
    verified.set(token, payload);
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
