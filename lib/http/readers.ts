import { config } from '../config';
import type { LinkSigning, Reader } from '../domain/read-links';
import { readLinkKey } from '../secret';
import { authenticate } from './auth';
import { query, type HttpEvent } from './request';

/** What a route that answers with resources signs their read links with. */
export async function linkSigning(): Promise<LinkSigning> {
  return { key: await readLinkKey(), ttlSeconds: config.readLinkTtlSeconds };
}

/**
 * Who reads bytes on the download and thumbnail routes: the holder of a signed link (its
 * `expires` and `signature`), a member with a token (header or `?token=`, for `<a href>` and
 * `<img src>`), or, only where the deployment sets TOKENLESS_READS, anyone who knows the ids.
 */
export async function readerOf(event: HttpEvent): Promise<Reader> {
  const { expires, signature, token } = query(event);
  if (expires !== undefined || signature !== undefined) {
    return {
      kind: 'link',
      expires: expires ?? '',
      signature: signature ?? '',
      key: await readLinkKey(),
    };
  }
  if (config.tokenlessReads && !event.headers['authorization'] && token === undefined) {
    return { kind: 'anyone' };
  }
  return authenticate(event, { queryToken: true });
}
