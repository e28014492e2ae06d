import { isValidLink, linkLives, readLinks, type ReadTarget } from '../../lib/domain/read-links';
import type { FileRecord } from '../../lib/domain/file';

const key = Buffer.alloc(32, 7);
const NOW = Date.UTC(2026, 11, 1, 10, 15);
const record = {
  company_id: 'acme',
  id: '3011253e-0000-4000-8000-000000000001',
  content: { revision: 'r1' },
} as FileRecord;

function linkOf(url: string) {
  const { searchParams } = new URL(url, 'http://x');
  return {
    kind: 'link' as const,
    expires: searchParams.get('expires') ?? '',
    signature: searchParams.get('signature') ?? '',
    key,
  };
}

const download: ReadTarget = { kind: 'download' };
const thumbnail0: ReadTarget = { kind: 'thumbnail', index: 0 };

describe('signed read links', () => {
  const sign = readLinks({ kind: 'signed', key, ttlSeconds: 86_400 }, record, NOW)!;

  test('name the route, and end on the hour after their lifetime', () => {
    const url = sign(thumbnail0);
    expect(url).toMatch(
      /^\/internal\/services\/files\/v1\/companies\/acme\/files\/3011253e-[^/]+\/thumbnails\/0\?expires=\d+&signature=[\w-]{43}$/,
    );
    const expires = Number(linkOf(url).expires);
    expect(expires % 3600).toBe(0);
    expect(expires * 1000 - NOW).toBeGreaterThanOrEqual(86_400_000);
    expect(expires * 1000 - NOW).toBeLessThan(86_400_000 + 3_600_000);
    // Read again within the hour: the same URL, so browsers can cache it.
    expect(
      readLinks({ kind: 'signed', key, ttlSeconds: 86_400 }, record, NOW + 60_000)!(thumbnail0),
    ).toBe(url);
  });

  test('hold for what they were signed for, and nothing else', () => {
    const link = linkOf(sign(thumbnail0));
    expect(isValidLink(record, thumbnail0, link, NOW)).toBe(true);
    expect(isValidLink(record, download, link, NOW)).toBe(false);
    expect(isValidLink(record, { kind: 'thumbnail', index: 1 }, link, NOW)).toBe(false);
    expect(isValidLink({ ...record, id: 'other' }, thumbnail0, link, NOW)).toBe(false);
    expect(isValidLink({ ...record, company_id: 'other' }, thumbnail0, link, NOW)).toBe(false);
    expect(isValidLink(record, thumbnail0, { ...link, key: Buffer.alloc(32, 8) }, NOW)).toBe(false);
  });

  test('stop when the content is replaced or gone', () => {
    const link = linkOf(sign(download));
    const overwritten = { ...record, content: { revision: 'r2' } } as FileRecord;
    expect(isValidLink(overwritten, download, link, NOW)).toBe(false);
    expect(isValidLink({ ...record, content: undefined }, download, link, NOW)).toBe(false);
  });

  test('stop at their expiry, which cannot be moved', () => {
    const link = linkOf(sign(download));
    const end = Number(link.expires) * 1000;
    expect(isValidLink(record, download, link, end - 1)).toBe(true);
    expect(isValidLink(record, download, link, end)).toBe(false);
    const later = { ...link, expires: String(Number(link.expires) + 3600) };
    expect(isValidLink(record, download, later, NOW)).toBe(false);
  });

  test.each([
    ['an empty signature', { signature: '' }],
    ['a signature of another length', { signature: 'abc' }],
    ['a malformed expiry', { expires: '1e12' }],
    ['a negative expiry', { expires: '-1' }],
  ])('%s is refused without throwing', (_, change) => {
    const link = { ...linkOf(sign(download)), ...change };
    expect(isValidLink(record, download, link, NOW)).toBe(false);
  });

  test('a file without content has none', () => {
    expect(
      readLinks({ kind: 'signed', key, ttlSeconds: 60 }, { ...record, content: undefined }, NOW),
    ).toBeUndefined();
  });

  test('where ids alone read, resources carry the bare route paths, which never expire', () => {
    const bare = readLinks({ kind: 'ids' }, record, NOW)!;
    expect(bare(thumbnail0)).toBe(
      `/internal/services/files/v1/companies/acme/files/${record.id}/thumbnails/0`,
    );
    expect(bare(download)).toBe(
      `/internal/services/files/v1/companies/acme/files/${record.id}/download`,
    );
  });

  test('an expired or malformed link is known to be dead before any record is read', () => {
    const link = linkOf(sign(download));
    expect(linkLives(link, NOW)).toBe(true);
    expect(linkLives(link, Number(link.expires) * 1000)).toBe(false);
    expect(linkLives({ ...link, expires: 'x' }, NOW)).toBe(false);
  });
});
