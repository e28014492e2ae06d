import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * An HTTP proxy on 127.0.0.1 that counts the bytes it carries and can slow them down. A CLI
 * process started with `proxyEnvironment` sends every request through it (Node's
 * NODE_USE_ENV_PROXY with HTTP_PROXY; undici tunnels each connection with CONNECT), so a test
 * sees what really crossed the wire, not what the CLI says it sent; the pace makes "half-way"
 * a moment a test can catch.
 */
export interface CountingProxy {
  url: string;
  /**
   * Bytes to and from every destination but the API (S3): requests with their bodies, answers.
   * Counted for the connections opened since the last `reset`, so that what an ended process
   * had already sent, still draining, is not taken for the next one's.
   */
  counts(): { toS3: number; fromS3: number };
  reset(): void;
  /** Resolves once every connection has closed (at most 10 s): what was in flight has landed. */
  idle(): Promise<void>;
  /** Bytes per second through the proxy, all connections and both ways together (default: no limit). */
  pace(bytesPerSecond: number): void;
  /** The next `count` connections to S3 are cut as they open, as a network that fails would. */
  dropNext(count: number): void;
  /** Connections cut so far. */
  dropped(): number;
  close(): Promise<void>;
}

export async function startCountingProxy(apiUrl: string): Promise<CountingProxy> {
  const apiPort = new URL(apiUrl).port;
  let toS3 = 0;
  let fromS3 = 0;
  let epoch = 0;
  let rate = Infinity;
  let drops = 0;
  let dropped = 0;
  let due = 0; // when the bytes let through so far may all have passed, at `rate`

  const paced = (count: (bytes: number) => void) =>
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        count(chunk.length);
        if (rate === Infinity) return done(null, chunk);
        const now = Date.now();
        due = Math.max(due, now) + (chunk.length / rate) * 1000;
        setTimeout(() => done(null, chunk), due - now);
      },
    });

  const sockets = new Set<net.Socket>();
  const server = http.createServer((_request, response) => {
    response.writeHead(405).end('CONNECT only');
  });
  server.on('connect', (request: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const [host, port] = (request.url ?? '').split(':');
    const s3 = port !== apiPort;
    if (s3 && drops > 0) {
      drops -= 1;
      dropped += 1;
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(port), host ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      const opened = epoch;
      const up = (bytes: number) => void (s3 && opened === epoch && (toS3 += bytes));
      const down = (bytes: number) => void (s3 && opened === epoch && (fromS3 += bytes));
      // A side that goes away (Ctrl-C) takes the other with it, as a dropped connection would.
      pipeline(client, paced(up), upstream).catch(() => upstream.destroy());
      pipeline(upstream, paced(down), client).catch(() => client.destroy());
    });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ toS3, fromS3 }),
    reset() {
      epoch += 1;
      toS3 = 0;
      fromS3 = 0;
    },
    async idle() {
      const deadline = Date.now() + 10_000;
      while (sockets.size > 0 && Date.now() < deadline) await sleep(50);
    },
    dropNext(count) {
      drops = count;
    },
    dropped: () => dropped,
    pace(bytesPerSecond) {
      rate = bytesPerSecond;
      due = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The environment that sends a Node process's fetch through the proxy. */
export const proxyEnvironment = (proxy: CountingProxy) => ({
  NODE_USE_ENV_PROXY: '1',
  HTTP_PROXY: proxy.url,
  http_proxy: proxy.url,
  NO_PROXY: '',
  no_proxy: '',
});
