/**
 * npm run package [-- --stage prod] [--param name=value ...] [--skip-layers]: the deployment
 * artifacts of a stage (default `prod`, parameters as `osls --param`) in .serverless/, built
 * offline without AWS credentials: first the
 * thumbnailer's layer for the functions' architecture (npm run build:layers), then
 * `osls package`. `npx osls deploy --stage <stage> --package .serverless` deploys them as
 * they are.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    stage: { type: 'string', default: 'prod' },
    param: { type: 'string', multiple: true, default: [] },
    'skip-layers': { type: 'boolean', default: false },
  },
});
const root = fileURLToPath(new URL('../..', import.meta.url));
const run = (args: string[]) =>
  execFileSync(process.execPath, args, { cwd: root, stdio: 'inherit' });

if (!values['skip-layers']) run(['scripts/build-layers.mts']);
run([
  path.join(root, 'node_modules/osls/bin/serverless.js'),
  'package',
  '--stage',
  values.stage!,
  ...values.param!.map((param) => `--param=${param}`),
]);

const out = path.join(root, '.serverless');
for (const name of readdirSync(out)
  .filter((file) => file.endsWith('.zip'))
  .sort()) {
  const kib = statSync(path.join(out, name)).size / 1024;
  process.stdout.write(`${name.padEnd(28)} ${kib.toFixed(0).padStart(8)} KiB\n`);
}
// The same parameters at deploy time: osls resolves the configuration again.
const params = values.param!.map((param) => ` --param="${param}"`).join('');
process.stdout.write(
  `Deploy with: npx osls deploy --stage ${values.stage}${params} --package .serverless\n`,
);
