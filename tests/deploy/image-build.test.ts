import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { standInCommands } from '../helpers/commands';

/**
 * `npm run image` as a person runs it, with a `docker` on PATH that stands in for Docker (this
 * machine has no Docker engine): it records how it was called and answers as buildx does,
 * with the pushed image's digest in the metadata file.
 */

const root = path.resolve(__dirname, '../..');
const REPOSITORY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/serverless-files-thumbnailer';
const DIGEST = `sha256:${'c'.repeat(64)}`;
let docker: Awaited<ReturnType<typeof standInCommands>>;
let args: string;

beforeAll(async () => {
  args = path.join(await mkdtemp(path.join(tmpdir(), 'docker-args-')), 'args');
  docker = await standInCommands({
    docker: [
      `printf '%s\\n' "$@" > "${args}"`,
      // buildx writes the metadata file named after --metadata-file.
      'while [ $# -gt 0 ]; do',
      `  if [ "$1" = --metadata-file ]; then printf '{"containerimage.digest":"${DIGEST}"}' > "$2"; fi`,
      '  shift',
      'done',
    ].join('\n'),
  });
});

afterAll(async () => {
  await docker.restore();
  await rm(path.dirname(args), { recursive: true, force: true });
});

const image = (args: string[]) =>
  promisify(execFile)(process.execPath, [path.join(root, 'scripts/image/build.mts'), ...args], {
    cwd: root,
    env: process.env,
  });

test('builds for the functions architecture, pushes, and prints the parameter by digest', async () => {
  const { stdout } = await image(['--repository', REPOSITORY, '--tag', 'v1']);
  const called = (await readFile(args, 'utf8')).trim().split('\n');
  expect(called.slice(0, 2)).toEqual(['buildx', 'build']);
  expect(called).toEqual(
    expect.arrayContaining(['linux/arm64', '--provenance=false', '--push', `${REPOSITORY}:v1`]),
  );
  expect(called[called.indexOf('--platform') + 1]).toBe('linux/arm64');
  expect(path.resolve(called.at(-1)!)).toBe(root); // the build context: the repository
  expect(stdout).toBe(`--param="thumbnailerImage=${REPOSITORY}@${DIGEST}"\n`);
});

test('refuses a repository that is not an ECR repository URI, before calling Docker', async () => {
  await rm(args, { force: true });
  await expect(image(['--repository', 'docker.io/me/thumbnailer'])).rejects.toMatchObject({
    code: 2,
    stderr: expect.stringContaining('usage: npm run image'),
  });
  await expect(readFile(args)).rejects.toThrow();
});
