import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Lambda's Runtime API, the HTTP interface a container image's runtime client polls
 * (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), on 127.0.0.1: it hands
 * out the events given to `invoke`, one at a time, and settles each with the function's
 * response or error. An init error fails every invocation.
 */
export interface RuntimeApi {
  /** host:port, for AWS_LAMBDA_RUNTIME_API. */
  address: string;
  invoke(event: unknown, timeoutMs?: number): Promise<unknown>;
  close(): Promise<void>;
}

interface Pending {
  id: string;
  event: unknown;
  deadline: number;
  resolve(result: unknown): void;
  reject(error: Error): void;
}

const PREFIX = '/2018-06-01/runtime';

export async function startRuntimeApi(): Promise<RuntimeApi> {
  const queue: Pending[] = [];
  const inFlight = new Map<string, Pending>();
  let poller: ((next: Pending) => void) | undefined;
  let initError: Error | undefined;

  const server = createServer((request, response) => {
    const body: Buffer[] = [];
    request.on('data', (piece: Buffer) => body.push(piece));
    request.on('end', () => {
      const text = Buffer.concat(body).toString('utf8');
      const url = request.url ?? '';
      if (request.method === 'GET' && url === `${PREFIX}/invocation/next`) {
        const hand = (next: Pending) => {
          inFlight.set(next.id, next);
          response.writeHead(200, {
            'Content-Type': 'application/json',
            'Lambda-Runtime-Aws-Request-Id': next.id,
            'Lambda-Runtime-Deadline-Ms': String(next.deadline),
            'Lambda-Runtime-Invoked-Function-Arn':
              'arn:aws:lambda:eu-west-1:123456789012:function:makeThumbnails',
            'Lambda-Runtime-Trace-Id': `Root=1-${Date.now().toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`,
          });
          response.end(JSON.stringify(next.event));
        };
        const next = queue.shift();
        if (next) hand(next);
        else poller = hand; // long poll until an event is queued
        return;
      }
      const settled = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
      if (request.method === 'POST' && settled) {
        const pending = inFlight.get(settled[1]!);
        inFlight.delete(settled[1]!);
        if (settled[2] === 'response') pending?.resolve(text ? JSON.parse(text) : null);
        else pending?.reject(new Error(`the function failed: ${text}`));
        response.writeHead(202).end('{}');
        return;
      }
      if (request.method === 'POST' && url === `${PREFIX}/init/error`) {
        initError = new Error(`the runtime failed to start: ${text}`);
        for (const pending of [...queue, ...inFlight.values()]) pending.reject(initError);
        response.writeHead(202).end('{}');
        return;
      }
      response.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${port}`,
    invoke(event, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        if (initError) return reject(initError);
        const pending: Pending = {
          id: randomUUID(),
          event,
          deadline: Date.now() + timeoutMs,
          resolve,
          reject,
        };
        const waiting = poller;
        poller = undefined;
        if (waiting) waiting(pending);
        else queue.push(pending);
      });
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
