/**
 * s3rver in a process of its own, started by stack-plugin.mts: the S3 emulator hashes and
 * writes every byte, and on a separate core it does not stall the API and functions.
 * Options arrive as JSON in argv[2]; S3 events go to the parent over IPC, which delivers them
 * to the subscribed functions. The process ends with its parent.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as new (options: object) => {
  run(): Promise<unknown>;
  close(): Promise<void>;
  on(event: 'event', listener: (event: unknown) => void): void;
};

const { port, directory, bucket, cors } = JSON.parse(process.argv[2] ?? '{}') as {
  port: number;
  directory: string;
  bucket: string;
  /** The bucket's CORS rules as S3's XML: s3rver sends CORS headers only under such rules. */
  cors?: string;
};

const server = new S3rver({
  address: '127.0.0.1',
  port,
  directory,
  silent: true,
  configureBuckets: [{ name: bucket, configs: cors ? [cors] : [] }],
});
server.on('event', (event) => process.send?.({ type: 'event', event }));

async function stop(): Promise<void> {
  await server.close().catch(() => undefined);
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => undefined); // Ctrl-C reaches the whole group: the parent decides
process.on('disconnect', () => void stop());

await server.run();
process.send?.({ type: 'ready' });
