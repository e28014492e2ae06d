import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { kindOf, mayPreview, sniff } from '../../lib/thumbnails/kinds';
import { fittingScale, renderThumbnails } from '../../lib/thumbnails/render';
import { inflatingPdf, tinyPdf } from '../helpers/api';
import { standInCommands } from '../helpers/commands';
import { image, pngBomb } from '../helpers/media';

const limits = { maxPixels: 100_000_000, timeoutMs: 20_000, kinds: { office: true } };

/** The first bytes of a zip whose first entry is `name` (stored, with `data`). */
function zipHead(name: string, data = ''): Buffer {
  const header = Buffer.alloc(30);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(name.length, 26);
  return Buffer.concat([header, Buffer.from(name + data, 'latin1')]);
}

describe('which previewer a file goes to', () => {
  test.each([
    ['image/jpeg', 'x', 'image'],
    ['image/svg+xml', 'x', 'image'],
    ['application/pdf', 'x', 'pdf'],
    ['video/quicktime', 'x', 'video'],
    ['application/octet-stream', 'PHOTO.JPG', 'image'],
    ['application/octet-stream', 'movie.MKV', 'video'],
    ['application/octet-stream', 'noextension', undefined],
    ['application/octet-stream', 'a.constructor', undefined], // not Object's own properties
    ['application/zip', 'a.png', undefined], // a declared type wins over the name
    ['application/msword', 'x', 'office'],
    ['application/vnd.openxmlformats-officedocument.presentationml.presentation', 'x', 'office'],
    ['application/vnd.oasis.opendocument.spreadsheet', 'x', 'office'],
    ['application/octet-stream', 'Report.DOCX', 'office'],
    ['application/octet-stream', 'notes.odt', 'office'],
    ['application/octet-stream', 'old.rtf', 'office'],
    ['image/heic', 'x', 'heif'],
    ['image/heif', 'x', 'heif'],
    ['application/octet-stream', 'IMG_0001.HEIC', 'heif'],
    ['application/octet-stream', 'photo.heif', 'heif'],
  ])('%s named %s: %s', (mime, name, kind) => {
    expect(kindOf(mime, name)).toBe(kind);
  });

  test('sniffing the first bytes', async () => {
    expect(sniff(await image.jpeg(8, 8))).toBe('image');
    expect(sniff(await image.png(8, 8))).toBe('image');
    expect(sniff(await image.gif(8, 8))).toBe('image');
    expect(sniff(await image.webp(8, 8))).toBe('image');
    expect(sniff(tinyPdf())).toBe('pdf');
    expect(sniff(Buffer.from('PK\x03\x04zipzip'))).toBeUndefined();
    expect(sniff(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0]))).toBe('office');
    expect(sniff(Buffer.from('{\\rtf1\\ansi hello}'))).toBe('office');
    expect(sniff(zipHead('[Content_Types].xml'))).toBe('office');
    expect(sniff(zipHead('_rels/.rels'))).toBe('office');
    expect(sniff(zipHead('mimetype', 'application/vnd.oasis.opendocument.text'))).toBe('office');
    expect(sniff(zipHead('photos/a.jpg'))).toBeUndefined();
  });

  test('ISO media by their ftyp brands: HEIC to libheif, AVIF to sharp, MP4 and MOV to ffmpeg', () => {
    const ftyp = (major: string, ...compatible: string[]) => {
      const size = 16 + 4 * compatible.length;
      const box = Buffer.alloc(size + 8);
      box.writeUInt32BE(size, 0);
      box.write(`ftyp${major}\0\0\0\0${compatible.join('')}`, 4, 'latin1');
      return box;
    };
    expect(sniff(ftyp('heic', 'mif1', 'heic', 'miaf'))).toBe('heif'); // iPhone, heif-enc
    expect(sniff(ftyp('heix', 'mif1'))).toBe('heif');
    expect(sniff(ftyp('mif1', 'heic', 'miaf'))).toBe('heif');
    expect(sniff(ftyp('mif1', 'avif', 'miaf'))).toBe('image');
    expect(sniff(ftyp('avif', 'mif1', 'miaf'))).toBe('image');
    expect(sniff(ftyp('mif1', 'miaf'))).toBe('image');
    expect(sniff(ftyp('isom', 'iso2', 'mp41'))).toBe('video');
    expect(sniff(ftyp('qt  ', 'qt  '))).toBe('video');
  });

  test('nobody waits for types without previews, empty files or files above the limit', () => {
    const options = { maxBytes: 100, kinds: { office: true } };
    expect(mayPreview('application/zip', 'a.zip', 10, options)).toBe(false);
    expect(mayPreview('image/png', 'a.png', 0, options)).toBe(false);
    expect(mayPreview('image/png', 'a.png', 101, options)).toBe(false);
    expect(mayPreview('application/octet-stream', 'blob', 10, options)).toBe(true);
    expect(mayPreview('application/msword', 'a.doc', 10, options)).toBe(true);
    // Where the thumbnailer has no LibreOffice (AWS, for now), nobody waits for office files.
    const noOffice = { maxBytes: 100, kinds: { office: false } };
    expect(mayPreview('application/msword', 'a.doc', 10, noOffice)).toBe(false);
    expect(mayPreview('application/octet-stream', 'a.docx', 10, noOffice)).toBe(false);
  });
});

describe('renderThumbnails (real sharp, tiny images)', () => {
  test('fits inside 600x400 without enlarging, keeps alpha, reports the true type and size', async () => {
    const [big] =
      (await renderThumbnails(
        await image.png(1200, 300),
        { mime: 'image/png', name: 'a.png' },
        limits,
      )) ?? [];
    expect(big).toMatchObject({ type: 'image/webp', ext: 'webp', width: 600, height: 150 });
    const meta = await sharp(big?.bytes).metadata();
    expect([meta.format, meta.width, meta.height, meta.hasAlpha]).toEqual(['webp', 600, 150, true]);
    const [small] =
      (await renderThumbnails(
        await image.jpeg(40, 30),
        { mime: 'image/jpeg', name: 'b.jpg' },
        limits,
      )) ?? [];
    expect([small?.width, small?.height]).toEqual([40, 30]);
  });

  test('EXIF orientation is applied', async () => {
    const [thumbnail] =
      (await renderThumbnails(
        await image.jpegRotated(600, 300),
        { mime: 'image/jpeg', name: 'r.jpg' },
        limits,
      )) ?? [];
    expect([thumbnail?.width, thumbnail?.height]).toEqual([200, 400]);
  });

  test('an image above the pixel limit gets none; a bomb is an error', async () => {
    const noisy = await image.noisyPng(400, 400);
    await expect(
      renderThumbnails(
        noisy,
        { mime: 'image/png', name: 'n.png' },
        { ...limits, maxPixels: 10_000 },
      ),
    ).resolves.toEqual([]);
    await expect(
      renderThumbnails(pngBomb(), { mime: 'image/png', name: 'b.png' }, limits),
    ).rejects.toThrow(/bomb/);
  });

  test('a truncated JPEG is an error', async () => {
    const truncated = (await image.jpeg(800, 600)).subarray(0, 2000);
    await expect(
      renderThumbnails(truncated, { mime: 'image/jpeg', name: 't.jpg' }, limits),
    ).rejects.toThrow();
  });

  test('a file of no previewable kind: undefined', async () => {
    await expect(
      renderThumbnails(Buffer.from('just text'), { mime: 'text/plain', name: 'a.txt' }, limits),
    ).resolves.toBeUndefined();
  });
});

describe('PDF pages are rendered at the scale that fits the box', () => {
  // Rendering itself runs in the stack tests: pdf.js is an ES module jest's CommonJS runtime
  // cannot load.
  test('a page size no canvas can hold is refused before one is made', () => {
    expect(fittingScale(612, 792)).toBeCloseTo(400 / 792);
    expect(fittingScale(14_400, 14_400)).toBeCloseTo(400 / 14_400);
    expect(() => fittingScale(0, 792)).toThrow('0x792 points');
    expect(() => fittingScale(Number.NaN, 792)).toThrow();
  });
});

describe('documents render in a child process with a memory bound', () => {
  // The child runs this module through tsx, with real ES modules: pdf.js loads there.
  const pdf = { mime: 'application/pdf', name: 'a.pdf' };

  test('a PDF renders there, page by page', async () => {
    const pages = await renderThumbnails(tinyPdf('two', 2), pdf, limits);
    expect(pages?.map((page) => [page.width, page.height, page.type])).toEqual([
      [309, 400, 'image/webp'],
      [309, 400, 'image/webp'],
    ]);
  });

  test('a content stream inflating to 1 GiB is stopped under 512 MiB', async () => {
    const bomb = await inflatingPdf();
    const error = await renderThumbnails(bomb, pdf, limits).then(
      () => undefined,
      (thrown: Error) => thrown,
    );
    expect(error?.message).toMatch(/needed more than 480 MiB \(renderer stopped at (\d+) MiB\)/);
    process.stdout.write(`inflating PDF: ${error?.message}\n`);
    const stoppedAt = Number(/stopped at (\d+) MiB/.exec(error?.message ?? '')?.[1]);
    expect(stoppedAt).toBeLessThan(512);
  }, 60_000);

  test('a renderer that hangs is killed at the timeout, with everything it started', async () => {
    // A LibreOffice that never answers: the first soffice on PATH records its pid and sleeps.
    // The sandbox shows LibreOffice /usr only, where this one is not: a bwrap that fails puts
    // the renderer on its next confinement (the sandbox itself dies with the group, as bwrap
    // runs it with --die-with-parent).
    const pidFile = path.join(await mkdtemp(path.join(tmpdir(), 'hanging-soffice-')), 'pid');
    const commands = await standInCommands({
      soffice: `echo $$ > ${pidFile}\nexec sleep 60`,
      bwrap: 'exit 1',
    });
    try {
      const doc = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0]);
      const office = { mime: 'application/msword', name: 'a.doc' };
      await expect(renderThumbnails(doc, office, { ...limits, timeoutMs: 2000 })).rejects.toThrow(
        'took longer than 2000 ms',
      );
      const pid = Number(await readFile(pidFile, 'utf8'));
      // The group was killed with SIGKILL: the sleeping "LibreOffice" is gone, or a zombie
      // until init reaps it.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const state = await readFile(`/proc/${pid}/stat`, 'utf8').then(
        (stat) => /\) (\S)/.exec(stat)?.[1],
        () => 'gone',
      );
      expect(['gone', 'Z']).toContain(state);
    } finally {
      await commands.restore();
      await rm(path.dirname(pidFile), { recursive: true, force: true });
    }
  }, 30_000);
});
