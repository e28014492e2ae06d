import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

const root = path.resolve(__dirname, '../..');

interface Route {
  file: string;
  type: string;
}

/** What the page origin serves: the page and the resumable.js Twake vendors, nothing else. */
const twakeRoutes: Record<string, Route> = {
  '/': { file: path.join(__dirname, 'twake-page.html'), type: 'text/html; charset=utf-8' },
  '/resumable.js': {
    file: path.join(root, 'node_modules/resumablejs/resumable.js'),
    type: 'text/javascript; charset=utf-8',
  },
};

export interface PageServer {
  /** http://127.0.0.1:<port>: another origin than the API's, as Twake's web app is. */
  origin: string;
  close(): Promise<void>;
}

/** A static server on 127.0.0.1 and a free port, for a test's page and its scripts only. */
export async function servePage(routes: Record<string, Route> = twakeRoutes): Promise<PageServer> {
  const server = createServer((request, response) => {
    const route = routes[new URL(request.url ?? '/', 'http://page').pathname];
    if (!route) {
      response.writeHead(404).end();
      return;
    }
    readFile(route.file).then(
      (body) => response.writeHead(200, { 'content-type': route.type }).end(body),
      (error: Error) => response.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // The browser keeps its connections alive; close() alone would wait for them.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// Root in a closed network: no sandbox, and none of Chromium's own calls home.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Debian's Chromium, driven by playwright-core. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
}
