import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import { memberItem } from '../helpers/aws';
import { startFakeSsm } from '../helpers/fake-ssm';
import { newCompanyId } from '../helpers/principals';

// `npm run token -- --stage <stage>` against a deployed stage: the secret comes from the
// stage's SSM parameter, the membership goes to its members table. Here the "deployed" AWS is
// the local stack's DynamoDB and a GetParameter-only SSM, reached through the SDK's
// AWS_ENDPOINT_URL_<SERVICE> variables, as a real account is through its default endpoints.

const root = path.resolve(__dirname, '../..');
const SECRET = 'the-acme-stage-secret-held-in-ssm-0123456789';

test('a token for a deployed stage is signed with its SSM secret and its membership recorded', async () => {
  const ssm = await startFakeSsm(new Map([['/serverless-files/acme/jwt-secret', SECRET]]));
  try {
    const company = newCompanyId();
    const membersTable = String(process.env['MEMBERS_TABLE']);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        path.join(root, 'scripts/token.mts'),
        ...['--stage', 'acme', '--region', 'eu-west-1', '--members-table', membersTable],
        ...['--company', company, '--user', 'grace', '--role', 'admin'],
      ],
      {
        cwd: root,
        env: {
          PATH: process.env['PATH'],
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_ENDPOINT_URL_SSM: ssm.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: String(process.env['DYNAMODB_ENDPOINT']),
        },
      },
    );
    const { payload } = await jwtVerify(stdout.trim(), new TextEncoder().encode(SECRET), {
      algorithms: ['HS256'],
    });
    expect(payload).toMatchObject({ sub: 'grace', type: 'access' });
    expect(ssm.requests).toEqual([
      {
        target: 'AmazonSSM.GetParameter',
        body: { Name: '/serverless-files/acme/jwt-secret', WithDecryption: true },
      },
    ]);
    expect(await memberItem(company, 'user:grace')).toMatchObject({ role: 'admin' });
  } finally {
    await ssm.close();
  }
});

test('a stage whose secret parameter does not exist: a clear error, no token', async () => {
  const ssm = await startFakeSsm(new Map());
  try {
    const failed = await promisify(execFile)(
      process.execPath,
      [path.join(root, 'scripts/token.mts'), '--stage', 'nowhere', '--company', 'c', '--user', 'u'],
      {
        cwd: root,
        env: {
          PATH: process.env['PATH'],
          AWS_REGION: 'eu-west-1',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_ENDPOINT_URL_SSM: ssm.endpoint,
        },
      },
    ).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2, stdout: '' });
    expect((failed as { stderr: string }).stderr).toContain(
      'Could not read SSM parameter /serverless-files/nowhere/jwt-secret',
    );
  } finally {
    await ssm.close();
  }
});
