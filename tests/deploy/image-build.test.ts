import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * `npm run image` as a person runs it, with a `docker` on PATH that stands in for Docker (this
 * machine has no Docker engine): it records how it was called and answers as buildx does,
 * with the pushed image's digest in the metadata file.
 */

const root = path.resolve(__dirname, '../..');
const REPOSITORY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/serverless-files-thumbnailer';
const DIGEST = `sha256:${'c'.repeat(64)}`;
let bin: string;

beforeAll(async () => {
  bin = await mkdtemp(path.join(tmpdir(), 'fake-docker-'));
  await writeFile(
    path.join(bin, 'docker'),
    [
      '#!/bin/sh',
      `printf '%s\\n' "$@" > "${bin}/args"`,
      // buildx writes the metadata file named after --metadata-file.
      'while [ $# -gt 0 ]; do',
      `  if [ "$1" = --metadata-file ]; then printf '{"containerimage.digest":"${DIGEST}"}' > "$2"; fi`,
      '  shift',
      'done',
    ].join('\n'),
    { mode: 0o755 },
  );
});

afterAll(() => rm(bin, { recursive: true, force: true }));

const image = (args: string[]) =>
  promisify(execFile)(process.execPath, [path.join(root, 'scripts/image/build.mts'), ...args], {
    cwd: root,
    env: { ...process.env, PATH: `${bin}:${process.env['PATH']}` },
  });

test('builds for the functions architecture, pushes, and prints the parameter by digest', async () => {
  const { stdout } = await image(['--repository', REPOSITORY, '--tag', 'v1']);
  const args = (await readFile(path.join(bin, 'args'), 'utf8')).trim().split('\n');
  expect(args.slice(0, 2)).toEqual(['buildx', 'build']);
  expect(args).toEqual(
    expect.arrayContaining(['linux/arm64', '--provenance=false', '--push', `${REPOSITORY}:v1`]),
  );
  expect(args[args.indexOf('--platform') + 1]).toBe('linux/arm64');
  expect(path.resolve(args.at(-1)!)).toBe(root); // the build context: the repository
  expect(stdout).toBe(`--param="thumbnailerImage=${REPOSITORY}@${DIGEST}"\n`);
});

test('refuses a repository that is not an ECR repository URI, before calling Docker', async () => {
  await rm(path.join(bin, 'args'), { force: true });
  await expect(image(['--repository', 'docker.io/me/thumbnailer'])).rejects.toMatchObject({
    code: 2,
    stderr: expect.stringContaining('usage: npm run image'),
  });
  await expect(readFile(path.join(bin, 'args'))).rejects.toThrow();
});
