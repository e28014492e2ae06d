import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readStackFile, type StackInfo } from './stack-file.mts';

export type { StackInfo };

const root = path.resolve(__dirname, '../..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `osls offline start --stage local` (with its emulators) on free ports and a fresh
 * data folder, and resolves once it prints its ready line. Output goes to `<dataDir>/stack.log`.
 * `env` sets what the local stage reads from the environment (e.g. TOKENLESS_READS).
 */
export async function startLocalStack({
  env = {},
}: { env?: Record<string, string> } = {}): Promise<{
  child: ChildProcess;
  dataDir: string;
  info: StackInfo;
}> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'serverless-files-test-'));
  const [httpPort, lambdaPort, s3Port, dynamodbPort] = await Promise.all(
    [1, 2, 3, 4].map(() => freePort()),
  );
  const log = createWriteStream(path.join(dataDir, 'stack.log'));
  const child = spawn(
    process.execPath,
    [require.resolve('osls/bin/serverless.js'), 'offline', 'start', '--stage', 'local'],
    {
      cwd: root,
      env: {
        ...process.env,
        PORT: String(httpPort),
        LAMBDA_PORT: String(lambdaPort),
        S3_PORT: String(s3Port),
        DYNAMODB_PORT: String(dynamodbPort),
        LOCAL_DATA_DIR: dataDir,
        LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'INFO',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error('timed out after 120 s')), 120_000);
    function fail(error: Error) {
      clearTimeout(timer);
      child.kill('SIGTERM');
      reject(new Error(`local stack did not start (${error.message}):\n${output.slice(-3000)}`));
    }
    child.once('exit', (code) => fail(new Error(`exited with ${code}`)));
    const watch = (piece: Buffer) => {
      output += piece.toString();
      if (output.includes('Serverless Files is ready at')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        // From here the output only goes to the log. Kept, it made this string grow with
        // every request logged, searched again at each piece: after a load test, that
        // search held up this process and, through the full pipe, the stack's own logging.
        for (const stream of [child.stdout, child.stderr]) stream?.off('data', watch);
        output = '';
        resolve();
      }
    };
    // osls writes its notices, our ready line among them, to stderr.
    for (const stream of [child.stdout, child.stderr]) {
      stream?.pipe(log, { end: false });
      stream?.on('data', watch);
    }
  });
  const info = await readStackFile(dataDir);
  return { child, dataDir, info };
}

/**
 * The environment under which code outside the stack (tests, benchmarks) reaches the same
 * emulators the functions use, as the functions themselves would.
 */
export function stackEnvironment(info: StackInfo, dataDir: string): Record<string, string> {
  return {
    ...info.environment,
    TEST_API_URL: info.api,
    LOCAL_DATA_DIR: dataDir,
    AWS_REGION: info.region,
    // s3rver checks only this key id.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
}

/** SIGTERM (the stack stops its emulators), SIGKILL after 10 s; then the data folder goes. */
export async function stopLocalStack(
  stack: { child: ChildProcess; dataDir: string },
  { keepData = false } = {},
): Promise<void> {
  const { child, dataDir } = stack;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (!keepData) await rm(dataDir, { recursive: true, force: true });
}
