/**
 * `stack.json`, written by the local stack when it is ready (stack-plugin.mts) into its data
 * folder, and read by whatever needs to find it: `npm run token`, `npm run sweep`, the tests
 * and benchmarks.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface StackInfo {
  pid: number;
  api: string;
  region: string;
  bucket: string;
  s3Endpoint: string;
  dynamodbEndpoint: string;
  lambdaEndpoint: string;
  filesTable: string;
  membersTable: string;
  uploadsTable: string;
  jwtSecret: string;
  /** The functions' environment, as osls resolved it for the local stage. */
  environment: Record<string, string>;
  /** Function key in serverless.yml -> its deployed (and offline) name. */
  functions: Record<string, string>;
  /** Function key -> the environment it adds to the provider's (e.g. NODE_OPTIONS). */
  functionEnvironments: Record<string, Record<string, string>>;
}

const fileIn = (dataDir: string) => path.join(dataDir, 'stack.json');

/** Readable by its owner only: it holds the token secret. */
export async function writeStackFile(dataDir: string, info: StackInfo): Promise<void> {
  // Written whole under a new name, then renamed: an older stack.json of another mode is
  // replaced, never rewritten in place.
  const file = fileIn(dataDir);
  const fresh = `${file}.${process.pid}`;
  await writeFile(fresh, JSON.stringify(info, null, 2), { mode: 0o600, flag: 'wx' });
  await rename(fresh, file);
}

export async function readStackFile(dataDir: string): Promise<StackInfo> {
  return JSON.parse(await readFile(fileIn(dataDir), 'utf8')) as StackInfo;
}

/** The stack `npm start` runs (or the one LOCAL_DATA_DIR names), for command-line scripts. */
export async function runningStack(): Promise<StackInfo> {
  const dataDir = path.resolve(process.env['LOCAL_DATA_DIR'] ?? '.local-data');
  return readStackFile(dataDir).catch(() => {
    process.stderr.write(
      `No local stack found (${fileIn(dataDir)}): start it with npm start. ` +
        'LOCAL_DATA_DIR selects the stack by its data folder (default .local-data)\n',
    );
    process.exit(2);
  });
}
