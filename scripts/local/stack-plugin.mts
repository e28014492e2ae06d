/**
 * osls plugin for the `local` stage: before `serverless offline` starts, it runs the AWS
 * emulators the functions talk to (dynalite for DynamoDB, s3rver for S3) on 127.0.0.1, with
 * data kept under `custom.local.dataDir`, creates the tables and bucket declared in
 * `resources`, and delivers S3 ObjectCreated events to the functions that subscribe to them
 * (as S3 notifications do on AWS) through offline's Lambda invoke API. On Ctrl-C it stops
 * what it started.
 */
import { fork } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { writeStackFile } from './stack-file.mts';
import {
  CreateTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';

/**
 * Garbage collection in the emulators' processes. This one holds osls, offline and
 * every function: about 140 MB of heap, marked whole by each full collection. By default,
 * every 64 MB of Buffers allocated starts one, and a 4 MiB chunk allocates about 16 MB of them
 * on its way through offline and the upload function. Here Buffers count toward the heap's
 * ordinary limit, which grows 3x past what a collection keeps. Measured on a 100 MiB chunked
 * upload: full collections went from 11 to about 1, the process's CPU from 2.0-2.5 s to about
 * 1 s. Local emulation only: on AWS each function has a heap of its own.
 */
const GC_FLAGS = ['--external-memory-accounted-in-global-limit', '--heap-growing-percent=200'];
for (const flag of GC_FLAGS) setFlagsFromString(flag);

interface S3Record {
  eventName: string;
  s3: { bucket: { name: string }; object: { key: string } };
}
interface S3Event {
  Records: S3Record[];
}
interface S3Subscription {
  bucket: string;
  event?: string;
  rules?: { prefix?: string; suffix?: string }[];
}
interface CorsRule {
  AllowedOrigins: string[];
  AllowedMethods: string[];
  AllowedHeaders?: string[];
  ExposedHeaders?: string[];
  MaxAge?: number;
}
interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
}
interface Serverless {
  service: {
    service: string;
    custom: {
      local: { s3Port: string; dynamodbPort: string; dataDir: string };
      bucket: string;
      'serverless-offline': { httpPort: string; lambdaPort: string };
    };
    provider: { region: string; stage: string; environment: Record<string, string> };
    resources?: { Resources?: Record<string, CfnResource> };
    getAllFunctions(): string[];
    getFunction(name: string): {
      name: string;
      handler?: string;
      image?: { uri?: string; command?: string[] };
      environment?: Record<string, string>;
      events?: { s3?: S3Subscription }[];
    };
  };
  serviceDir: string;
}
type Log = {
  notice(message: string): void;
  warning(message: string): void;
  error(message: string): void;
};

/**
 * A function deployed as a container image (the thumbnailer) runs locally as the handler its
 * image runs, its command, from the sources: offline and esbuild serve handlers only, and
 * this machine has the image's system packages (scripts/setup.sh installs the Dockerfile's
 * list). Done before osls validates the configuration, which then sees a handler function.
 */
function runImagesFromSources(serverless: Serverless): void {
  for (const name of serverless.service.getAllFunctions()) {
    const fn = serverless.service.getFunction(name);
    const handler = fn.image?.command?.[0];
    if (!handler) continue;
    delete fn.image;
    fn.handler = handler;
  }
}

// s3rver checks only the access key id of a signature, and expects this one.
const EMULATOR_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

class LocalStackPlugin {
  hooks: Record<string, () => Promise<void>>;
  #serverless: Serverless;
  #log: Log;
  #stop: (() => Promise<void>)[] = [];

  constructor(serverless: Serverless, _options: unknown, { log }: { log: Log }) {
    this.#serverless = serverless;
    this.#log = log;
    if (serverless.service.provider.stage === 'local') runImagesFromSources(serverless);
    this.hooks = {
      'before:offline:start:init': () => this.#start(),
      'before:offline:start:ready': () => this.#announce(),
      'before:offline:start:end': () => this.#shutdown(),
      // `osls invoke local --stage local` runs one function against the running stack.
      'before:invoke:local:loadEnvVars': async () => this.#useEmulators(),
    };
  }

  /** The emulators' credentials and region, for the functions this process runs. */
  #useEmulators(): void {
    if (this.#serverless.service.provider.stage !== 'local') return;
    Object.assign(process.env, EMULATOR_CREDENTIALS, { AWS_REGION: this.#settings.region });
  }

  get #settings() {
    const { custom, provider } = this.#serverless.service;
    const dataDir = path.resolve(this.#serverless.serviceDir, custom.local.dataDir);
    return {
      dataDir,
      s3Port: Number(custom.local.s3Port),
      dynamodbPort: Number(custom.local.dynamodbPort),
      httpPort: Number(custom['serverless-offline'].httpPort),
      lambdaPort: Number(custom['serverless-offline'].lambdaPort),
      region: provider.region,
      bucket: custom.bucket,
    };
  }

  async #start(): Promise<void> {
    if (this.#serverless.service.provider.stage !== 'local') {
      throw new Error('serverless offline runs the local stage only: use --stage local');
    }
    // Offline copies AWS_* variables into every function's environment.
    this.#useEmulators();
    // Offline runs asynchronous invocations (S3 events, the assembler) in this process without
    // awaiting them: a failing one would end the whole stack. On AWS it is logged (and
    // retried by Lambda); here it is logged.
    process.on('unhandledRejection', (error) =>
      this.#log.error(`An asynchronous invocation failed: ${String(error)}`),
    );
    const { dataDir, s3Port, dynamodbPort, bucket } = this.#settings;
    await mkdir(path.join(dataDir, 'dynamodb'), { recursive: true });
    await mkdir(path.join(dataDir, 's3'), { recursive: true });

    await this.#startEmulator('./dynamodb-emulator.mts', 'DynamoDB', {
      port: dynamodbPort,
      directory: path.join(dataDir, 'dynamodb'),
    });
    await this.#startEmulator(
      './s3-emulator.mts',
      'S3',
      { port: s3Port, directory: path.join(dataDir, 's3'), bucket, cors: this.#bucketCors() },
      {
        onEvent: (event) => this.#deliver(event),
        // s3rver's ListObjectsV2 continuation tokens are DES, which OpenSSL 3 keeps in its
        // legacy provider: without it, a listing past 1,000 keys fails.
        nodeFlags: ['--openssl-legacy-provider'],
      },
    );

    await this.#createTables();
  }

  /** An emulator in a process of its own; resolves once it listens. */
  async #startEmulator(
    script: string,
    name: string,
    options: object,
    { onEvent, nodeFlags = [] }: { onEvent?: (event: S3Event) => void; nodeFlags?: string[] } = {},
  ): Promise<void> {
    const child = fork(fileURLToPath(new URL(script, import.meta.url)), [JSON.stringify(options)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...process.execArgv, ...GC_FLAGS, ...nodeFlags],
    });
    this.#stop.push(
      () =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    );
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the ${name} emulator exited with ${code}`)));
      child.on('message', (message: { type: string; event?: S3Event }) => {
        if (message.type === 'ready') resolve();
        if (message.type === 'event' && message.event) onEvent?.(message.event);
      });
    });
  }

  async #createTables(): Promise<void> {
    const client = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${this.#settings.dynamodbPort}`,
      region: this.#settings.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const tables = Object.values(this.#serverless.service.resources?.Resources ?? {}).filter(
      (resource) => resource.Type === 'AWS::DynamoDB::Table',
    );
    for (const { Properties } of tables) {
      const { TableName, KeySchema, AttributeDefinitions } = Properties;
      try {
        await client.send(
          new CreateTableCommand({
            TableName,
            KeySchema,
            AttributeDefinitions,
            BillingMode: 'PAY_PER_REQUEST',
          } as ConstructorParameters<typeof CreateTableCommand>[0]),
        );
      } catch (error) {
        if (!(error instanceof ResourceInUseException)) throw error; // kept from a previous run
      }
    }
    client.destroy();
  }

  /**
   * The deployed bucket's CORS rules (its CorsConfiguration in `resources`) as the XML S3's
   * PutBucketCors takes, so that a page on another origin reads downloads locally as it does
   * on AWS.
   */
  #bucketCors(): string | undefined {
    const buckets = Object.values(this.#serverless.service.resources?.Resources ?? {}).filter(
      (resource) => resource.Type === 'AWS::S3::Bucket',
    );
    const rules = (buckets[0]?.Properties['CorsConfiguration'] as { CorsRules?: CorsRule[] })
      ?.CorsRules;
    if (!rules?.length) return undefined;
    const element = (name: string, values: (string | number)[] = []) =>
      values.map((value) => `<${name}>${escapeXml(String(value))}</${name}>`).join('');
    const xml = rules.map(
      (rule) =>
        '<CORSRule>' +
        element('AllowedOrigin', rule.AllowedOrigins) +
        element('AllowedMethod', rule.AllowedMethods) +
        element('AllowedHeader', rule.AllowedHeaders) +
        element('ExposeHeader', rule.ExposedHeaders) +
        element('MaxAgeSeconds', rule.MaxAge === undefined ? [] : [rule.MaxAge]) +
        '</CORSRule>',
    );
    return `<CORSConfiguration>${xml.join('')}</CORSConfiguration>`;
  }

  /** S3 notifications are asynchronous invocations; so are these. */
  #deliver(event: S3Event): void {
    const { service } = this.#serverless;
    for (const record of event.Records) {
      for (const name of service.getAllFunctions()) {
        const fn = service.getFunction(name);
        const subscribed = (fn.events ?? []).some(({ s3 }) => s3 && matches(s3, record));
        if (!subscribed) continue;
        fetch(
          `http://127.0.0.1:${this.#settings.lambdaPort}/2015-03-31/functions/${fn.name}/invocations`,
          {
            method: 'POST',
            headers: { 'x-amz-invocation-type': 'Event' },
            body: JSON.stringify({ Records: [record] }),
          },
        ).catch((error: Error) => this.#log.error(`S3 event to ${name} failed: ${error.message}`));
      }
    }
  }

  async #announce(): Promise<void> {
    const { dataDir, httpPort, s3Port, dynamodbPort, region, bucket } = this.#settings;
    const { environment } = this.#serverless.service.provider;
    const api = `http://127.0.0.1:${httpPort}/internal/services/files/v1`;
    await writeStackFile(dataDir, {
      pid: process.pid,
      api,
      region,
      bucket,
      s3Endpoint: `http://127.0.0.1:${s3Port}`,
      dynamodbEndpoint: `http://127.0.0.1:${dynamodbPort}`,
      lambdaEndpoint: `http://127.0.0.1:${this.#settings.lambdaPort}`,
      filesTable: environment['FILES_TABLE'] ?? '',
      membersTable: environment['MEMBERS_TABLE'] ?? '',
      uploadsTable: environment['UPLOADS_TABLE'] ?? '',
      jwtSecret: environment['JWT_SECRET'] ?? '',
      environment,
      functions: Object.fromEntries(
        this.#serverless.service
          .getAllFunctions()
          .map((name) => [name, this.#serverless.service.getFunction(name).name]),
      ),
      functionEnvironments: Object.fromEntries(
        this.#serverless.service
          .getAllFunctions()
          .map((name) => [name, this.#serverless.service.getFunction(name).environment ?? {}]),
      ),
    });
    this.#log.notice(
      `Serverless Files is ready at ${api} (S3 http://127.0.0.1:${s3Port}, ` +
        `DynamoDB http://127.0.0.1:${dynamodbPort}, data in ${path.relative(process.cwd(), dataDir) || '.'})`,
    );
  }

  async #shutdown(): Promise<void> {
    await Promise.allSettled(this.#stop.reverse().map((stop) => stop()));
  }
}

const escapeXml = (text: string) => text.replace(/[<>&'"]/g, (char) => `&#${char.charCodeAt(0)};`);

function matches(subscription: S3Subscription, record: S3Record): boolean {
  const { key } = record.s3.object;
  const wanted = (subscription.event ?? 's3:ObjectCreated:*').replace(/^s3:/, '');
  const eventMatches = wanted.endsWith('*')
    ? record.eventName.startsWith(wanted.slice(0, -1))
    : record.eventName === wanted;
  const rulesMatch = (subscription.rules ?? []).every(
    ({ prefix, suffix }) =>
      (prefix === undefined || key.startsWith(prefix)) &&
      (suffix === undefined || key.endsWith(suffix)),
  );
  return eventMatches && rulesMatch;
}

export default LocalStackPlugin;
