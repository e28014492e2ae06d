/**
 * npm run token -- --company <id> --user <id> [--role member|admin] [--ttl 3600]
 * npm run token -- --company <id> --application <id>
 *
 * Prints a Twake-style access token (HS256, the local stack's secret) alone on stdout and
 * records the membership in the running local stack (`npm start`), so the token works at once.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { SignJWT } from 'jose';
import { runningStack } from './local/stack-file.mts';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    company: { type: 'string' },
    user: { type: 'string' },
    application: { type: 'string' },
    role: { type: 'string', default: 'member' },
    ttl: { type: 'string', default: '3600' },
  },
});
const { company, user, application, role } = values;
const ttl = Number(values.ttl);
if (!company || Boolean(user) === Boolean(application)) {
  fail(
    'usage: npm run token -- --company <id> (--user <id> [--role member|admin] | --application <id>)',
  );
}
if (role !== 'member' && role !== 'admin') fail('--role must be member or admin');
if (!Number.isInteger(ttl) || ttl < 1) fail('--ttl must be a whole number of seconds');

const stack = await runningStack();

const documents = DynamoDBDocumentClient.from(
  new DynamoDBClient({
    endpoint: stack.dynamodbEndpoint,
    region: stack.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  }),
);
await documents
  .send(
    new PutCommand({
      TableName: stack.membersTable,
      Item: {
        company_id: company,
        principal: user ? `user:${user}` : `application:${application}`,
        role: user ? role : 'application',
      },
    }),
  )
  .catch((error: Error) =>
    fail(
      `Could not reach the local stack at ${stack.dynamodbEndpoint} (${error.message}): is npm start running?`,
    ),
  );

const token = await new SignJWT({
  type: 'access',
  ...(application && { application_id: application }),
})
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject((user ?? application) as string)
  .setIssuedAt()
  .setExpirationTime(`${ttl}s`)
  .sign(new TextEncoder().encode(stack.jwtSecret));

process.stdout.write(`${token}\n`);
documents.destroy();
