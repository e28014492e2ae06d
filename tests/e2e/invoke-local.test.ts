import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileItem } from '../helpers/aws';
import { newCompanyId, tokenFor } from '../helpers/principals';

// `npx osls invoke local -f <fn> -p events/... --stage local`, as the README shows it, against
// the running local stack: the sample event with a real token runs the function's bundle.

const root = path.resolve(__dirname, '../..');
const port = (url: string | undefined) => String(new URL(String(url)).port);

async function invokeLocal(fn: string, eventFile: string) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      require.resolve('osls/bin/serverless.js'),
      'invoke',
      'local',
      '-f',
      fn,
      '-p',
      eventFile,
      '--stage',
      'local',
    ],
    {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        // The stack under test runs on free ports; `npm start`'s are the defaults.
        S3_PORT: port(process.env['S3_ENDPOINT']),
        DYNAMODB_PORT: port(process.env['DYNAMODB_ENDPOINT']),
        LAMBDA_PORT: port(process.env['LAMBDA_ENDPOINT']),
        // Its own build folder: the stack's bundles stay as they are.
        ESBUILD_WORK_FOLDER: '.esbuild-invoke',
        LOG_LEVEL: 'SILENT',
      },
    },
  );
  // The handler's result is the last JSON object printed.
  return JSON.parse(stdout.slice(stdout.lastIndexOf('\n{') + 1)) as {
    statusCode: number;
    body: string;
  };
}

test('createFile runs on events/http/create-file.json with a minted token and stores the file', async () => {
  const company = newCompanyId();
  const token = await tokenFor({ company, user: 'ivan' });
  const sample = JSON.parse(
    await readFile(path.join(root, 'events/http/create-file.json'), 'utf8'),
  );
  sample.headers.authorization = `Bearer ${token}`;
  sample.pathParameters.company_id = company;
  const eventFile = path.join(String(process.env['LOCAL_DATA_DIR']), 'create-file-event.json');
  await writeFile(eventFile, JSON.stringify(sample));

  const result = await invokeLocal('createFile', eventFile);
  expect(result.statusCode).toBe(200);
  const { resource } = JSON.parse(result.body) as { resource: { id: string } };
  expect(await fileItem(company, resource.id)).toMatchObject({ content: { size: 13 } });
}, 120_000);

test("the samples as committed (placeholder token) get the service's 401, not a crash", async () => {
  const result = await invokeLocal('getFile', path.join(root, 'events/http/get-file.json'));
  expect(result.statusCode).toBe(401);
  expect(JSON.parse(result.body)).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
}, 120_000);

test('the health sample answers 200 with no token', async () => {
  const result = await invokeLocal('health', path.join(root, 'events/http/health.json'));
  expect(result.statusCode).toBe(200);
  expect(JSON.parse(result.body)).toEqual({ status: 'ok' });
}, 120_000);
