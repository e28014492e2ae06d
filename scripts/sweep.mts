/**
 * npm run sweep [-- --company <id>] [--abandoned-after <seconds>] [--stuck-after <seconds>]
 *
 * Runs the sweeper once on the running local stack (`npm start`), through serverless
 * offline's Lambda API as AWS's scheduler would, and prints its report.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    company: { type: 'string' },
    'abandoned-after': { type: 'string' },
    'stuck-after': { type: 'string' },
  },
});
const seconds = (value: string | undefined) => (value === undefined ? undefined : Number(value));

const stackFile = path.resolve(process.env['LOCAL_DATA_DIR'] ?? '.local-data', 'stack.json');
const stack = JSON.parse(
  await readFile(stackFile, 'utf8').catch(() => {
    process.stderr.write(`No local stack found (${stackFile}): start it with npm start\n`);
    process.exit(2);
  }),
) as { lambdaEndpoint: string; functions: Record<string, string> };
const response = await fetch(
  `${stack.lambdaEndpoint}/2015-03-31/functions/${stack.functions['sweep']}/invocations`,
  {
    method: 'POST',
    body: JSON.stringify({
      company_id: values.company,
      abandoned_after_seconds: seconds(values['abandoned-after']),
      stuck_after_seconds: seconds(values['stuck-after']),
    }),
  },
);
process.stdout.write(`${await response.text()}\n`);
if (!response.ok) process.exit(1);
