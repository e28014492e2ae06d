/**
 * npm run build:layers [-- --arch arm64|x64] — installs the thumbnailer's native and heavy
 * dependencies (layers/previewers/nodejs/package.json: sharp, pdfjs-dist, ffmpeg) for Lambda's
 * Linux and the functions' architecture into layers/previewers/nodejs/node_modules, which
 * `osls package`/`deploy` zips into the `previewers` layer. Versions are pinned by the layer's
 * own package-lock.json (`npm ci`), which lists every platform's packages; npm picks those of
 * Lambda's (@img/sharp-linux-arm64, @napi-rs/canvas-linux-arm64-gnu,
 * @ffmpeg-installer/linux-arm64) from the registry; nothing is downloaded from elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { arch: { type: 'string', default: 'arm64' } } });
const arch = values.arch === 'x64' ? 'x64' : 'arm64';
const layer = fileURLToPath(new URL('../layers/previewers/nodejs', import.meta.url));

rmSync(path.join(layer, 'node_modules'), { recursive: true, force: true });
execFileSync(
  'npm',
  [
    'ci',
    '--prefix',
    layer,
    '--os=linux',
    `--cpu=${arch}`,
    '--libc=glibc',
    '--omit=dev',
    '--no-audit',
    '--no-fund',
  ],
  { stdio: 'inherit' },
);

const expected = [
  `@img/sharp-linux-${arch}`,
  `@ffmpeg-installer/linux-${arch}`,
  `@napi-rs/canvas-linux-${arch}-gnu`,
];
const missing = expected.filter((name) => !existsSync(path.join(layer, 'node_modules', name)));
if (missing.length > 0) throw new Error(`the layer lacks ${missing.join(', ')}`);
const scopes = readdirSync(path.join(layer, 'node_modules'));
process.stdout.write(`previewers layer for linux-${arch}: ${scopes.length} top-level packages\n`);
