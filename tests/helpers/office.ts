import JSZip from 'jszip';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/**
 * Office documents made in the tests by LibreOffice itself (the project ships no fixture):
 * a flat OpenDocument file of known pages or slides, or a CSV, converted to the format asked.
 */

const NS = [
  'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"',
  'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"',
  'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"',
  'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"',
  'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"',
  'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"',
  'xmlns:xlink="http://www.w3.org/1999/xlink"',
].join(' ');

/** A text document of `pages` pages, each starting with a page break. */
function flatText(pages: number, linkedImage?: string): string {
  const image = linkedImage
    ? '<text:p><draw:frame draw:name="linked" text:anchor-type="as-char" svg:width="2cm" ' +
      `svg:height="2cm"><draw:image xlink:href="${linkedImage}" xlink:type="simple" ` +
      'xlink:show="embed" xlink:actuate="onLoad"/></draw:frame></text:p>'
    : '';
  const paragraphs =
    image +
    Array.from(
      { length: pages },
      (_, i) => `<text:p${i ? ' text:style-name="Break"' : ''}>Page ${i + 1}</text:p>`,
    ).join('');
  return (
    `<?xml version="1.0" encoding="UTF-8"?><office:document ${NS} office:version="1.2" ` +
    'office:mimetype="application/vnd.oasis.opendocument.text"><office:automatic-styles>' +
    '<style:style style:name="Break" style:family="paragraph">' +
    '<style:paragraph-properties fo:break-before="page"/></style:style>' +
    `</office:automatic-styles><office:body><office:text>${paragraphs}</office:text>` +
    '</office:body></office:document>'
  );
}

/** A presentation of `slides` slides. */
function flatPresentation(slides: number): string {
  const pages = Array.from(
    { length: slides },
    (_, i) =>
      `<draw:page draw:name="s${i + 1}"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="10cm" ` +
      `svg:height="3cm"><draw:text-box><text:p>Slide ${i + 1}</text:p></draw:text-box>` +
      '</draw:frame></draw:page>',
  ).join('');
  return (
    `<?xml version="1.0" encoding="UTF-8"?><office:document ${NS} office:version="1.2" ` +
    'office:mimetype="application/vnd.oasis.opendocument.presentation"><office:body>' +
    `<office:presentation>${pages}</office:presentation></office:body></office:document>`
  );
}

export type OfficeFormat = 'docx' | 'odt' | 'rtf' | 'doc' | 'pptx' | 'odp' | 'xlsx' | 'ods';

/**
 * A document of `pages` pages (slides; a spreadsheet is one page) in `format`; a text document
 * may link an image by URL instead of holding it.
 */
export async function officeDocument(
  format: OfficeFormat,
  pages = 1,
  { linkedImage }: { linkedImage?: string } = {},
): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'office-fixture-'));
  try {
    const [name, content] = ['pptx', 'odp'].includes(format)
      ? ['source.fodp', flatPresentation(pages)]
      : ['xlsx', 'ods'].includes(format)
        ? ['source.csv', 'name,count\nalpha,1\nbeta,2\n']
        : ['source.fodt', flatText(pages, linkedImage)];
    await writeFile(path.join(dir, name), content);
    await promisify(execFile)(
      'soffice',
      [
        `-env:UserInstallation=${pathToFileURL(path.join(dir, 'profile')).href}`,
        '--headless',
        '--norestore',
        '--convert-to',
        format,
        '--outdir',
        dir,
        path.join(dir, name),
      ],
      { timeout: 60_000, env: { ...process.env, HOME: dir } },
    );
    return await readFile(path.join(dir, `source.${format}`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A docx whose 2.8 MB zip inflates to 412 MB of XML: past 2.2 GB and 60 s unbounded. */
export async function docxBomb(): Promise<Buffer> {
  const zip = await JSZip.loadAsync(await officeDocument('docx', 1));
  const xml = (await zip.file('word/document.xml')?.async('string')) ?? '';
  const at = xml.indexOf('<w:p>');
  const paragraph = Buffer.from(
    `<w:p><w:r><w:t>${'lorem ipsum dolor sit amet '.repeat(40)}</w:t></w:r></w:p>`,
  );
  const count = 370_000;
  const body = Buffer.alloc(at + paragraph.length * count + (xml.length - at));
  body.write(xml.slice(0, at));
  for (let i = 0; i < count; i++) paragraph.copy(body, at + i * paragraph.length);
  body.write(xml.slice(at), at + paragraph.length * count);
  zip.file('word/document.xml', body);
  return zip.generateAsync({
    type: 'nodebuffer',
    compression: 'DEFLATE',
    compressionOptions: { level: 1 },
  });
}
