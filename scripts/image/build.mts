/**
 * npm run image -- --repository <account>.dkr.ecr.<region>.amazonaws.com/<name> [--tag TAG]:
 * builds the thumbnailer's container image from the Dockerfile for the functions'
 * architecture (serverless.yml's `provider.architecture`), pushes it, and prints the stack
 * parameter that names it by digest, for `npm run package` and `osls deploy`. Needs Docker
 * with buildx (an arm64 build on an x86 machine runs under QEMU) and a login to the
 * repository (`aws ecr get-login-password | docker login --username AWS --password-stdin …`).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { values } = parseArgs({
  options: { repository: { type: 'string' }, tag: { type: 'string' } },
});
if (
  !values.repository ||
  !/^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/\S+$/.test(values.repository)
) {
  process.stderr.write(
    'usage: npm run image -- --repository <account>.dkr.ecr.<region>.amazonaws.com/<name> [--tag TAG]\n',
  );
  process.exit(2);
}
const { provider } = parse(readFileSync(path.join(root, 'serverless.yml'), 'utf8'), {
  logLevel: 'error',
}) as { provider: { architecture: string } };
const tag =
  values.tag ??
  execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();

const work = mkdtempSync(path.join(tmpdir(), 'image-'));
try {
  const metadata = path.join(work, 'metadata.json');
  execFileSync(
    'docker',
    [
      'buildx',
      'build',
      '--platform',
      `linux/${provider.architecture}`,
      // Lambda takes a plain image manifest: no attestation index beside it.
      '--provenance=false',
      '--sbom=false',
      '--tag',
      `${values.repository}:${tag}`,
      '--metadata-file',
      metadata,
      '--push',
      root,
    ],
    { stdio: 'inherit' },
  );
  const digest = (JSON.parse(readFileSync(metadata, 'utf8')) as Record<string, string>)[
    'containerimage.digest'
  ];
  if (!digest?.startsWith('sha256:')) throw new Error('docker buildx printed no image digest');
  process.stdout.write(`--param="thumbnailerImage=${values.repository}@${digest}"\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
