import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import { checkJwtSecret, config } from './config';

/** A rotated secret reaches every warm container within this time. */
const SECRET_MAX_AGE_SECONDS = 300;

/** The HS256 secret of access tokens: from the environment, or from SSM (decrypted, cached). */
export async function jwtSecret(): Promise<string> {
  if ('value' in config.jwtSecret) return config.jwtSecret.value;
  const { parameter } = config.jwtSecret;
  const secret = await getParameter(parameter, {
    decrypt: true,
    maxAge: SECRET_MAX_AGE_SECONDS,
  });
  if (!secret) throw new Error(`SSM parameter ${parameter} is empty`);
  return checkJwtSecret(secret, `SSM parameter ${parameter}`);
}

let derived: { secret: string; key: KeyObject } | undefined;

/**
 * The key of signed read links, derived from the token secret under a label of its own: no
 * second secret to provision, and a link can never be taken for a token or the reverse.
 * Rotating the token secret revokes every link. A KeyObject: HMACs with it skip preparing
 * raw bytes as a key each time (a fifth of the cost of signing a link).
 */
export async function readLinkKey(): Promise<KeyObject> {
  const secret = await jwtSecret();
  if (derived?.secret !== secret) {
    const bytes = createHmac('sha256', secret).update('read-links/v1').digest();
    derived = { secret, key: createSecretKey(bytes) };
  }
  return derived.key;
}
