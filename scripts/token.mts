/**
 * npm run token -- --company <id> --user <id> [--role member|admin] [--ttl 3600]
 * npm run token -- --company <id> --application <id>
 *
 * Prints a Twake-style access token (HS256) alone on stdout and records the membership, so the
 * token works at once:
 * - by default against the running local stack (`npm start`), with its secret;
 * - with `--stage <stage>` against that deployed stage, with your AWS credentials: the secret
 *   is read from its SSM parameter (`/serverless-files/<stage>/jwt-secret`, or
 *   `--secret-parameter`) and the membership written to its members table
 *   (`serverless-files-<stage>-members`, or `--members-table`). `--region` or AWS_REGION
 *   picks the region.
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
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
    stage: { type: 'string' },
    region: { type: 'string' },
    'secret-parameter': { type: 'string' },
    'members-table': { type: 'string' },
  },
});
const { company, user, application, role, stage } = values;
const ttl = Number(values.ttl);
if (!company || Boolean(user) === Boolean(application)) {
  fail(
    'usage: npm run token -- [--stage <stage>] --company <id> (--user <id> [--role member|admin] | --application <id>) [--ttl <seconds>]',
  );
}
if (role !== 'member' && role !== 'admin') fail('--role must be member or admin');
if (!Number.isInteger(ttl) || ttl < 1) fail('--ttl must be a whole number of seconds');

/** Where the membership goes and which secret signs: the local stack or a deployed stage. */
async function target() {
  if (!stage || stage === 'local') {
    const stack = await runningStack();
    return {
      where: `the local stack at ${stack.dynamodbEndpoint} (is npm start running?)`,
      secret: stack.jwtSecret,
      membersTable: stack.membersTable,
      dynamodb: new DynamoDBClient({
        endpoint: stack.dynamodbEndpoint,
        region: stack.region,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      }),
    };
  }
  const region = values.region ?? process.env['AWS_REGION'] ?? 'eu-west-1';
  const parameter = values['secret-parameter'] ?? `/serverless-files/${stage}/jwt-secret`;
  const ssm = new SSMClient({ region });
  const secret = await ssm
    .send(new GetParameterCommand({ Name: parameter, WithDecryption: true }))
    .then(({ Parameter }) => Parameter?.Value)
    .catch((error: Error) => fail(`Could not read SSM parameter ${parameter}: ${error.message}`));
  ssm.destroy();
  if (!secret) fail(`SSM parameter ${parameter} is empty`);
  return {
    where: `stage ${stage} in ${region}`,
    secret,
    membersTable: values['members-table'] ?? `serverless-files-${stage}-members`,
    dynamodb: new DynamoDBClient({ region }),
  };
}

const { where, secret, membersTable, dynamodb } = await target();
const documents = DynamoDBDocumentClient.from(dynamodb);
await documents
  .send(
    new PutCommand({
      TableName: membersTable,
      Item: {
        company_id: company,
        principal: user ? `user:${user}` : `application:${application}`,
        role: user ? role : 'application',
      },
    }),
  )
  .catch((error: Error) => fail(`Could not record the membership in ${where}: ${error.message}`));

const token = await new SignJWT({
  type: 'access',
  ...(application && { application_id: application }),
})
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject((user ?? application) as string)
  .setIssuedAt()
  .setExpirationTime(`${ttl}s`)
  .sign(new TextEncoder().encode(secret));

process.stdout.write(`${token}\n`);
documents.destroy();
