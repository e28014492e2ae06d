/**
 * npm run package -- --param thumbnailerImage=URI [--stage prod] [--param name=value ...]: the
 * deployment artifacts of a stage (default `prod`, parameters as `osls --param`) in
 * .serverless/, built offline without AWS credentials or Docker: the zipped functions and the
 * CloudFormation template, which takes the thumbnailer's image by its URI (`npm run image`
 * builds and pushes it, and prints the parameter). `npx osls deploy --stage <stage>
 * --package .serverless` deploys them as they are.
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
  },
});
const root = fileURLToPath(new URL('../..', import.meta.url));

if (!values.param!.some((param) => param.startsWith('thumbnailerImage='))) {
  process.stderr.write(
    'The stack needs the thumbnailer image: npm run package -- --param ' +
      'thumbnailerImage=<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<digest>\n' +
      '(`npm run image -- --repository <ECR repository URI>` builds and pushes it, then prints ' +
      'the parameter.)\n',
  );
  process.exit(2);
}
execFileSync(
  process.execPath,
  [
    path.join(root, 'node_modules/osls/bin/serverless.js'),
    'package',
    '--stage',
    values.stage!,
    ...values.param!.map((param) => `--param=${param}`),
  ],
  { cwd: root, stdio: 'inherit' },
);

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
