import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const root = path.resolve(__dirname, '../..');

/**
 * A well-formed thumbnailer image URI, for packaging where no image was built (tests and
 * benchmarks): the template refers to it, nothing reads it.
 */
export const EXAMPLE_THUMBNAILER_IMAGE =
  '123456789012.dkr.ecr.eu-west-1.amazonaws.com/serverless-files-thumbnailer@sha256:' +
  'a'.repeat(64);

/** The parts of the compiled CloudFormation template that checks and scripts read. */
export interface Template {
  Conditions: Record<string, unknown>;
  Resources: Record<
    string,
    { Type: string; Properties: Record<string, unknown> } & Record<string, unknown>
  >;
  Outputs: Record<string, { Value: unknown }>;
}

/**
 * `osls package --stage <stage>` into `outDir`, with no AWS credentials (a test or a
 * benchmark must not reach an account by accident), building in a work folder of its own so
 * that a running local stack's bundles are left alone. Resolves with the template.
 */
export async function packageService(
  stage: string,
  outDir: string,
  params: Record<string, string> = {},
): Promise<Template> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ESBUILD_WORK_FOLDER: '.esbuild-package',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_CONFIG_FILE: '/dev/null',
  };
  for (const name of [
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AWS_PROFILE',
  ]) {
    delete env[name];
  }
  await promisify(execFile)(
    process.execPath,
    [
      require.resolve('osls/bin/serverless.js'),
      'package',
      '--stage',
      stage,
      '--package',
      outDir,
      ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`),
    ],
    { cwd: root, env, maxBuffer: 16 * 1024 * 1024 },
  );
  return JSON.parse(
    await readFile(path.join(outDir, 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as Template;
}
