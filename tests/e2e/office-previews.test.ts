import JSZip from 'jszip';
import {
  binaryBytes,
  call,
  downloadBytes,
  filesUrl,
  sha256,
  uploadWithThumbnails,
} from '../helpers/api';
import { docxBomb, officeDocument, type OfficeFormat } from '../helpers/office';
import { objectKeys } from '../helpers/aws';
import { startCanary } from '../helpers/canary';
import { bearer, newCompanyId, tokenFor } from '../helpers/principals';

/**
 * Office documents get previews: LibreOffice (Debian's, headless) converts their first pages
 * to PDF, which the PDF previewer renders, one thumbnail per page. The documents are made by
 * LibreOffice itself in the tests.
 */

type Resource = {
  id: string;
  metadata: { thumbnails_status: string } | null;
  thumbnails: {
    index: number;
    type: string;
    width: number;
    height: number;
    thumbhash?: string;
    blurhash?: string;
  }[];
};

const company = newCompanyId();
let token: string;
let app: string;

beforeAll(async () => {
  [token, app] = await Promise.all([
    tokenFor({ company, user: 'olivia' }),
    tokenFor({ company, application: 'office-app' }),
  ]);
});

async function uploadSync(bytes: Buffer, name: string, mime: string, as = token, into = '') {
  const response = await uploadWithThumbnails<Resource>(company, as, { bytes, name, mime }, into);
  expect(response.status).toBe(200);
  return response.body.resource;
}

const MIMES: Record<OfficeFormat, string> = {
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  odt: 'application/vnd.oasis.opendocument.text',
  rtf: 'application/rtf',
  doc: 'application/msword',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odp: 'application/vnd.oasis.opendocument.presentation',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
};

test.each([
  ['docx', 3],
  ['odt', 2],
  ['doc', 4],
  ['rtf', 1],
  ['pptx', 2],
  ['odp', 3],
  ['xlsx', 1],
  ['ods', 1],
] as const)(
  'a %s of %d pages gets a thumbnail per page, fitted in 600x400',
  async (format, pages) => {
    const resource = await uploadSync(
      await officeDocument(format, pages),
      `a.${format}`,
      MIMES[format],
    );
    expect(resource.metadata?.thumbnails_status).toBe('done');
    expect(resource.thumbnails).toHaveLength(pages);
    for (const thumbnail of resource.thumbnails) {
      expect(thumbnail.type).toBe('image/webp');
      expect(thumbnail.width).toBeLessThanOrEqual(600);
      expect(thumbnail.height).toBeLessThanOrEqual(400);
      expect(Math.max(thumbnail.width / 600, thumbnail.height / 400)).toBeCloseTo(1, 2);
    }
    // The first page's placeholders, as every kind's first thumbnail has.
    expect(resource.thumbnails[0]?.blurhash).toHaveLength(28);
    expect(
      Buffer.from(resource.thumbnails[0]?.thumbhash ?? '', 'base64').byteLength,
    ).toBeGreaterThan(4);
  },
);

test('an overwrite makes the new revision its own pages and removes the old ones; a delete removes all', async () => {
  const first = await uploadSync(await officeDocument('docx', 3), 'plan.docx', MIMES.docx);
  expect(first.thumbnails).toHaveLength(3);
  const thumbnailKeys = async () =>
    (await objectKeys(`files/${company}/${first.id}/`)).filter((key) =>
      key.includes('/thumbnails/'),
    );
  const old = await thumbnailKeys();
  expect(old).toHaveLength(3);
  const second = await uploadSync(
    await officeDocument('pptx', 2),
    'plan.pptx',
    MIMES.pptx,
    app,
    `/${first.id}`,
  );
  expect(second.thumbnails).toHaveLength(2);
  const now = await thumbnailKeys();
  expect(now).toHaveLength(2);
  expect(now.filter((key) => old.includes(key))).toEqual([]);
  const removed = await call(filesUrl(company, `/${first.id}`), {
    method: 'DELETE',
    headers: bearer(token),
  });
  expect(removed.status).toBe(200);
  expect(await objectKeys(`files/${company}/${first.id}/`)).toEqual([]);
});

test('recognised by extension under a generic type, and by first bytes with neither', async () => {
  const docx = await officeDocument('docx', 2);
  const byName = await uploadSync(docx, 'Report.DOCX', 'application/octet-stream');
  expect(byName.thumbnails).toHaveLength(2);
  const sniffed = await uploadSync(docx, 'report', 'application/octet-stream');
  expect(sniffed.thumbnails).toHaveLength(2);
});

test('only the first 10 pages are converted', async () => {
  const resource = await uploadSync(await officeDocument('odt', 12), 'long.odt', MIMES.odt);
  expect(resource.thumbnails.map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test.each([
  ['a .doc that is random bytes', 'random.doc', () => Promise.resolve(binaryBytes(20_000, 4))],
  ['a truncated docx', 'cut.docx', async () => (await officeDocument('docx', 3)).subarray(0, 1500)],
])('%s ends done or error, the file itself untouched', async (_, name, make) => {
  const bytes = await make();
  const resource = await uploadSync(bytes, name, 'application/octet-stream');
  expect(['done', 'error']).toContain(resource.metadata?.thumbnails_status);
  const { bytes: downloaded } = await downloadBytes(company, resource.id, token);
  expect(sha256(downloaded)).toBe(sha256(bytes));
});

test('a docx zip bomb ends error (LibreOffice has a bounded address space), the file untouched', async () => {
  const bomb = await docxBomb();
  const uploaded = await uploadSync(bomb, 'bomb.docx', MIMES.docx);
  let status = uploaded.metadata?.thumbnails_status;
  for (let attempt = 0; status === 'waiting' && attempt < 300; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const read = await call<{ resource: Resource }>(filesUrl(company, `/${uploaded.id}`), {
      headers: bearer(token),
    });
    status = read.body.resource.metadata?.thumbnails_status;
  }
  expect(status).toBe('error');
  const { bytes } = await downloadBytes(company, uploaded.id, token);
  expect(sha256(bytes)).toBe(sha256(bomb));
}, 120_000);

describe('a document linking to an image on another host', () => {
  let canary: Awaited<ReturnType<typeof startCanary>>;

  beforeAll(async () => {
    canary = await startCanary();
  });

  afterAll(() => canary.close());

  test('is converted without any request reaching that host', async () => {
    const docx = await officeDocument('docx', 1, { linkedImage: canary.url });
    // The link must really be in the document, or this test could not fail.
    const zip = await JSZip.loadAsync(docx);
    const rels = (await zip.file('word/_rels/document.xml.rels')?.async('string')) ?? '';
    expect(rels).toContain(canary.url);
    canary.hits.length = 0; // LibreOffice may have tried the link while making the document

    const resource = await uploadSync(docx, 'linked.docx', MIMES.docx);
    expect(resource.metadata?.thumbnails_status).toBe('done');
    expect(canary.hits).toEqual([]);
  });
});
