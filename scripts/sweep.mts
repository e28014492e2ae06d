/**
 * npm run sweep [-- --company <id>] [--abandoned-after <seconds>] [--stuck-after <seconds>]
 *
 * Runs the sweeper once on the running local stack (`npm start`), through serverless
 * offline's Lambda API as AWS's scheduler would, and prints its report.
 */
import { parseArgs } from 'node:util';
import { runningStack } from './local/stack-file.mts';

const { values } = parseArgs({
  options: {
    company: { type: 'string' },
    'abandoned-after': { type: 'string' },
    'stuck-after': { type: 'string' },
  },
});
const seconds = (value: string | undefined) => (value === undefined ? undefined : Number(value));

const stack = await runningStack();
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
