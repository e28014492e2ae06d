import { attachmentDisposition } from '../../lib/domain/content-disposition';

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
});
