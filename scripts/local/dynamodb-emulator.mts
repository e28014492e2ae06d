/**
 * dynalite in a process of its own, started by stack-plugin.mts: every DynamoDB call costs the
 * emulator more CPU than the function making it, and on a core of its own it does not stall
 * the API and functions (as DynamoDB, a service of its own, does not on AWS). Options arrive
 * as JSON in argv[2]. The process ends with its parent.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: object) => Server;

const { port, directory } = JSON.parse(process.argv[2] ?? '{}') as {
  port: number;
  directory: string;
};

const server = dynalite({ path: directory, createTableMs: 0 });

function stop(): void {
  server.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', () => undefined); // Ctrl-C reaches the whole group: the parent decides
process.on('disconnect', stop);

server.once('error', (error) => {
  process.stderr.write(`DynamoDB emulator: ${String(error)}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => process.send?.({ type: 'ready' }));
