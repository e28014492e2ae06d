import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/**
 * LibreOffice (headless) turns an office document into a PDF of its first pages, which the
 * PDF previewer then renders. Each conversion has a profile of its own (a shared profile makes
 * parallel runs fail silently) and a bounded address space; its folder is removed on every
 * path. It runs inside the renderer's child process group (child.ts), which is killed whole
 * when its time or memory runs out.
 */

/** The extensions LibreOffice is told, so that it picks the right import filter. */
const KNOWN = /\.(docx?|odt|rtf|xlsx?|ods|pptx?|odp)$/i;

/** Whether a command prefix runs here (`prefix true` succeeds). */
const runs = (prefix: string[]) =>
  spawnSync(prefix[0]!, [...prefix.slice(1), 'true'], { stdio: 'ignore' }).status === 0;

/**
 * The address space LibreOffice may map. Twake's sample.doc converts in 216 MB of RSS under
 * it; a docx whose 1.4-2.8 MB zip inflates to 412 MB of XML, which ran past 2.2 GB and 60 s
 * without a bound, ends in 2.5 s at a peak of 400 MB (measured with /usr/bin/time).
 */
const OFFICE_ADDRESS_SPACE_BYTES = 640 * 1024 * 1024;
/** The largest file LibreOffice may write (its PDF, its temporary files): /tmp is bounded. */
const OFFICE_FILE_BYTES = 256 * 1024 * 1024;

let confinement: string[] | undefined;
/**
 * What LibreOffice runs under, probed once. No network: where the kernel lets this process
 * make a network namespace (root, or unprivileged user namespaces), it runs in one with no
 * interface up, so a document's linked images and files on other hosts stay out of reach. A
 * bounded address space: a zip bomb fails its allocation instead of taking the function's
 * memory; and bounded files, which /tmp (the function's ephemeral storage) must hold.
 */
function confine(): string[] {
  confinement ??= [
    ...([
      ['unshare', '--net'],
      ['unshare', '--net', '--map-root-user'],
    ].find(runs) ?? []),
    ...(runs(['prlimit', `--as=${OFFICE_ADDRESS_SPACE_BYTES}`])
      ? ['prlimit', `--as=${OFFICE_ADDRESS_SPACE_BYTES}`, `--fsize=${OFFICE_FILE_BYTES}`]
      : []),
  ];
  return confinement;
}

export async function officeToPdf(input: Buffer, name: string, pages: number): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'office-'));
  try {
    const source = path.join(dir, `document${KNOWN.exec(name)?.[0]?.toLowerCase() ?? ''}`);
    await writeFile(source, input);
    const range = JSON.stringify({ PageRange: { type: 'string', value: `1-${pages}` } });
    const [file, ...args] = [
      ...confine(),
      'soffice',
      `-env:UserInstallation=${pathToFileURL(path.join(dir, 'profile')).href}`,
      '--headless',
      '--norestore',
      '--nolockcheck',
      '--nodefault',
      '--convert-to',
      `pdf:writer_pdf_Export:${range}`,
      '--outdir',
      path.join(dir, 'out'),
      source,
    ];
    // Its exit status says little (0 for a document it could not read): the PDF decides.
    await promisify(execFile)(file!, args, { cwd: dir, env: { ...process.env, HOME: dir } }).catch(
      () => undefined,
    );
    const pdf = await readFile(path.join(dir, 'out', `${path.parse(source).name}.pdf`)).catch(
      () => undefined,
    );
    if (!pdf) throw new Error('LibreOffice could not convert the document');
    return pdf;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
