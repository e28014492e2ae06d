import { attachmentDisposition, shortened } from '../../lib/domain/content-disposition';

/** Reads filename* back the way browsers do (RFC 8187). */
function decodedName(header: string): string {
  const match = header.match(/filename\*=UTF-8''([^;\s]+)$/);
  if (!match?.[1]) throw new Error(`no filename* in ${header}`);
  return decodeURIComponent(match[1]);
}

function fallbackName(header: string): string {
  const match = header.match(/^attachment; filename="([^"\\]*)";/);
  if (!match?.[1]) throw new Error(`no quoted filename in ${header}`);
  return match[1];
}

describe('attachmentDisposition', () => {
  test('a plain name is the same in both forms', () => {
    expect(attachmentDisposition('report.pdf')).toBe(
      `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`,
    );
  });

  test.each([
    ['accents', 'Résumé été.pdf', 'Resume ete.pdf'],
    ['emoji', 'party 🎉.png', 'party _.png'],
    ['quotes', 'say "hi".txt', 'say _hi_.txt'],
    ['backslash', 'a\\b.txt', 'a_b.txt'],
    ['path separators', '../../etc/passwd', '.._.._etc_passwd'],
    ['CR/LF (header injection)', 'a\r\nSet-Cookie: x=1.txt', 'a__Set-Cookie: x=1.txt'],
    ['CJK', '报告.docx', '__.docx'],
    ['only non-ASCII', '日本', '__'],
    ["RFC 8187's excluded characters", "it's (1)*.txt", "it's (1)*.txt"],
  ])('%s: safe ASCII fallback, exact UTF-8 name', (_, name, fallback) => {
    const header = attachmentDisposition(name);
    expect(header).not.toMatch(/[\r\n]/);
    expect(header).toMatch(/^[\x20-\x7e]+$/);
    expect(fallbackName(header)).toBe(fallback);
    expect(decodedName(header)).toBe(name);
    expect(header.split("UTF-8''")[1]).not.toMatch(/['()*]/);
  });

  test('an empty name downloads as "download"', () => {
    expect(attachmentDisposition('')).toBe(
      `attachment; filename="download"; filename*=UTF-8''download`,
    );
  });

  test('lone surrogates cannot break the header', () => {
    expect(() => attachmentDisposition('bad \ud800 name')).not.toThrow();
  });

  test.each([
    ['ASCII', 'a'.repeat(1020) + '.pdf'],
    ['3-byte characters', '报'.repeat(340) + '.pdf'],
    ['emoji', '🎉'.repeat(255) + '.png'],
    ['characters percent-encoding doubles', '&'.repeat(1020) + '.txt'],
    ['a character NFKD makes many', '\ufdfa'.repeat(85) + '.txt'],
  ])('a long name of %s is saved shortened, extension kept', (_, name) => {
    const header = attachmentDisposition(name);
    const saved = decodedName(header);
    expect(Buffer.byteLength(saved)).toBeLessThanOrEqual(255);
    expect(saved.slice(-4)).toBe(name.slice(-4));
    expect(name.startsWith(saved.slice(0, -4))).toBe(true);
    expect(fallbackName(header).length).toBeLessThanOrEqual(255);
  });
});

describe('shortened', () => {
  test('cuts between characters, never inside one', () => {
    expect(shortened('🎉🎉🎉', 9)).toBe('🎉🎉');
    expect(shortened('ab.c', 10)).toBe('ab.c');
    expect(shortened('abcdef.txt', 6)).toBe('ab.txt');
    // Only a short, space-free last suffix is an extension.
    expect(shortened('notes version 2.0 final', 10)).toBe('notes vers');
  });
});
