import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A server on 127.0.0.1 that a document links to: it records every request it gets (which
 * should be none) and answers each with `image` (a PNG), or 404 without one.
 */
export async function startCanary(image?: Buffer) {
  const hits: string[] = [];
  const server = createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`);
    if (image) response.writeHead(200, { 'content-type': 'image/png' }).end(image);
    else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    hits,
    url: `http://127.0.0.1:${port}/canary.png`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
