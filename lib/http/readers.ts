import { config } from '../config';
import type { LinkSigning, Reader } from '../domain/read-links';
import { readLinkKey } from '../secret';
import { authenticate } from './auth';
import { query, type HttpEvent } from './request';

/**
 * How the routes that answer with resources write their read links: signed, or the bare route
 * paths where the deployment lets anyone read by ids (they then never expire, as Twake's
 * original thumbnail URLs did not).
 */
export async function linkSigning(): Promise<LinkSigning> {
  if (config.tokenlessReads) return { kind: 'ids' };
  return { kind: 'signed', key: await readLinkKey(), ttlSeconds: config.readLinkTtlSeconds };
}

/**
 * Who reads bytes on the download and thumbnail routes. A credential that is sent (the
 * Authorization header, or `?token=` for `<a href>` and `<img src>`) is always checked; else,
 * where the deployment sets TOKENLESS_READS, anyone who knows the ids (a stale link included);
 * else the holder of a signed link (`expires` and `signature`); else it is a 401.
 */
export async function readerOf(event: HttpEvent): Promise<Reader> {
  const { expires, signature, token } = query(event);
  const credential = event.headers['authorization'] !== undefined || token !== undefined;
  if (!credential && config.tokenlessReads) return { kind: 'anyone' };
  if (!credential && (expires !== undefined || signature !== undefined)) {
    return {
      kind: 'link',
      expires: expires ?? '',
      signature: signature ?? '',
      key: await readLinkKey(),
    };
  }
  return authenticate(event, { queryToken: true });
}
