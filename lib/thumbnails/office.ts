import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { officeExtension } from './kinds';

/**
 * LibreOffice (headless) turns an office document into a PDF of its first pages, which the
 * PDF previewer then renders. Each conversion has a profile of its own (a shared profile makes
 * parallel runs fail silently) and a bounded address space; its folder is removed on every
 * path. It runs inside the renderer's child process group (child.ts), which is killed whole
 * when its time or memory runs out. What a document may reach beyond itself is held three
 * ways: the profile's settings (everywhere), a sandbox where this machine can make one
 * (locally), and a network with no way out (the thumbnailer's VPC on AWS).
 */
/** Whether a command prefix runs here (`prefix true` succeeds). */
const runs = (prefix: string[]) =>
  spawnSync(prefix[0]!, [...prefix.slice(1), 'true'], { stdio: 'ignore' }).status === 0;

/**
 * The address space LibreOffice may map: Twake's sample.doc converts in 216 MB of RSS under it,
 * a zip bomb fails its allocations instead of taking the function's memory.
 */
const OFFICE_ADDRESS_SPACE_BYTES = 640 * 1024 * 1024;
/**
 * The largest file LibreOffice may write (its PDF, its temporary files): /tmp is bounded. A
 * docx whose 2.8 MB zip inflates to 412 MB of XML ends at load under it, at 212 MB of RSS.
 */
const OFFICE_FILE_BYTES = 256 * 1024 * 1024;
/** Link update modes: Writer's and Calc's enumerations differ, both values mean "never". */
const WRITER_NEVER = '0';
const CALC_NEVER = '1';

/**
 * The profile's settings, written before LibreOffice starts: links to other documents and
 * images are not followed (no location is trusted, so every linked resource is blocked; links
 * are never updated), macros never run, and anything that still asks for a URL goes to a proxy
 * on the discard port, which answers nothing.
 */
const SETTINGS = [
  ['Common/Security/Scripting', 'BlockUntrustedRefererLinks', 'true'],
  ['Common/Security/Scripting', 'SecureURL', ''],
  ['Common/Security/Scripting', 'MacroSecurityLevel', '3'],
  ['Common/Security/Scripting', 'DisableMacrosExecution', 'true'],
  ['Writer/Content/Update', 'Link', WRITER_NEVER],
  ['Calc/Content/Update', 'Link', CALC_NEVER],
  ['Inet/Settings', 'ooInetProxyType', '2'],
  ['Inet/Settings', 'ooInetNoProxy', ''],
  ...['HTTP', 'HTTPS', 'FTP'].flatMap((scheme) => [
    ['Inet/Settings', `ooInet${scheme}ProxyName`, '127.0.0.1'],
    ['Inet/Settings', `ooInet${scheme}ProxyPort`, '9'],
  ]),
];

function registry(): string {
  const items = SETTINGS.map(([node, name, value]) => {
    const root = node!.startsWith('Inet/') ? 'org.openoffice.' : 'org.openoffice.Office.';
    return `<item oor:path="/${root}${node}"><prop oor:name="${name}" oor:op="fuse"><value>${value}</value></prop></item>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
    ...items,
    '</oor:items>',
    '',
  ].join('\n');
}

/** A sandbox showing LibreOffice only /usr, the configuration it reads and its own folder. */
function sandbox(dir: string): string[] {
  const etc = ['libreoffice', 'fonts', 'alternatives', 'ld.so.cache', 'localtime', 'mime.types']
    .concat(['passwd', 'group', 'nsswitch.conf', 'papersize'])
    .map((name) => `/etc/${name}`)
    .filter((file) => existsSync(file));
  const options: string[][] = [
    ['--unshare-all'], // no network, no other process, nothing shared
    ['--die-with-parent'], // killed with the renderer's group
    ['--ro-bind', '/usr', '/usr'],
    ...['bin', 'sbin', 'lib', 'lib64'].map((name) => ['--symlink', `usr/${name}`, `/${name}`]),
    ...etc.map((file) => ['--ro-bind', file, file]),
    ['--ro-bind-try', '/var/cache/fontconfig', '/var/cache/fontconfig'], // built, not rebuilt
    ['--proc', '/proc'],
    ['--dev', '/dev'],
    ['--tmpfs', '/tmp'],
    ['--bind', dir, dir],
    ['--clearenv'],
    ...Object.entries({ PATH: '/usr/bin:/bin', HOME: dir, TMPDIR: dir, LANG: 'C.UTF-8' }).map(
      ([name, value]) => ['--setenv', name, value],
    ),
  ];
  return ['bwrap', ...options.flat()];
}

type Confinement = 'sandbox' | 'network namespace' | 'none';
interface Probed {
  confinement: Confinement;
  /** The command prefix of a conversion in `dir`. */
  prefix(dir: string): string[];
}

let probed: Probed | undefined;
/**
 * What this machine lets LibreOffice run under, probed once per renderer child (that is, per
 * file: a few milliseconds). The sandbox (bubblewrap: no file but /usr, the few /etc files it
 * reads and its own folder; no network); else a network namespace with no interface up (no
 * file bound); else neither (on Lambda, where no namespace can be made: the settings and the
 * VPC hold it). Within resource limits where prlimit runs: a bounded address space and
 * bounded files.
 */
function probe(): Probed {
  if (probed) return probed;
  const limits = ['prlimit', `--as=${OFFICE_ADDRESS_SPACE_BYTES}`, `--fsize=${OFFICE_FILE_BYTES}`];
  const bounded = runs(limits) ? limits : [];
  if (runs(sandbox(tmpdir()))) {
    probed = { confinement: 'sandbox', prefix: (dir) => [...bounded, ...sandbox(dir)] };
    return probed;
  }
  const unshare = [
    ['unshare', '--net'],
    ['unshare', '--net', '--map-root-user'],
  ].find(runs);
  probed = unshare
    ? { confinement: 'network namespace', prefix: () => [...bounded, ...unshare] }
    : { confinement: 'none', prefix: () => bounded };
  return probed;
}

/** How this machine confines LibreOffice (for tests and logs). */
export const officeConfinement = (): Confinement => probe().confinement;

export async function officeToPdf(input: Buffer, name: string, pages: number): Promise<Buffer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'office-'));
  try {
    const extension = officeExtension(name);
    const source = path.join(dir, extension ? `document.${extension}` : 'document');
    await writeFile(source, input);
    await mkdir(path.join(dir, 'profile', 'user'), { recursive: true });
    await writeFile(path.join(dir, 'profile', 'user', 'registrymodifications.xcu'), registry());
    const range = JSON.stringify({ PageRange: { type: 'string', value: `1-${pages}` } });
    const [file, ...args] = [
      ...probe().prefix(dir),
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
    // Only what it needs from the environment (a document can read /proc/self/environ).
    const env = { PATH: process.env['PATH'], HOME: dir, TMPDIR: dir, LANG: 'C.UTF-8' };
    await promisify(execFile)(file!, args, { cwd: dir, env }).catch(() => undefined);
    const pdf = await readFile(path.join(dir, 'out', `${path.parse(source).name}.pdf`)).catch(
      () => undefined,
    );
    if (!pdf) throw new Error('LibreOffice could not convert the document');
    return pdf;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
