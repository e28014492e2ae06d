/**
 * The service's HTTP API as the CLI calls it: JSON in, JSON out, every refusal turned into a
 * `CliError` that carries the service's own message and the exit code of its kind.
 */

import { setTimeout as sleep } from 'node:timers/promises';

const API_ROOT = '/internal/services/files/v1';

/** Exit codes, by kind of failure (README, `serverless-files --help`). */
export const EXIT = {
  ok: 0,
  failure: 1, // anything unexpected
  usage: 2, // a bad flag or argument, a file that cannot be read
  auth: 3, // 401, 403: no token, a refused one, not allowed
  notFound: 4, // 404
  conflict: 5, // 409: not uploaded yet, another upload in progress
  refused: 6, // 400, 413, 415: the service refused the input
  unavailable: 7, // the service cannot be reached, or answered 5xx
  interrupted: 130, // Ctrl-C: what was sent is kept, the same command resumes
} as const;

export class CliError extends Error {
  readonly exitCode: number;
  readonly status: number | undefined;

  constructor(message: string, exitCode: number, status?: number) {
    super(message);
    this.exitCode = exitCode;
    this.status = status;
  }
}

export class Interrupted extends CliError {
  constructor() {
    super('Interrupted', EXIT.interrupted);
  }
}

function exitCodeOf(status: number): number {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status >= 500) return EXIT.unavailable;
  return EXIT.refused;
}

export interface Connection {
  /** The service's origin, e.g. http://127.0.0.1:3000 (a path up to the API root is allowed). */
  url: string;
  token: string;
  company: string;
}

type Query = Record<string, string | number | undefined>;

export class Api {
  readonly signal: AbortSignal;
  private readonly connection: Connection;
  private readonly root: string;

  constructor(connection: Connection, signal: AbortSignal) {
    this.connection = connection;
    this.signal = signal;
    const base = connection.url.replace(/\/+$/, '');
    this.root = base.endsWith(API_ROOT) ? base : `${base}${API_ROOT}`;
  }

  /** A URL under the company: `path` is relative to `/companies/{company}`. */
  url(path: string, query: Query = {}): string {
    const url = new URL(
      `${this.root}/companies/${encodeURIComponent(this.connection.company)}${path}`,
    );
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    return url.toString();
  }

  /** A request to the service, answered as JSON (a 204 as undefined). */
  async call<T>(
    method: string,
    path: string,
    options: { query?: Query; json?: unknown; body?: Uint8Array; type?: string } = {},
  ): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.connection.token}`,
    };
    let body: string | Uint8Array | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.body) {
      headers['content-type'] = options.type ?? 'application/octet-stream';
      body = options.body;
    }
    const response = await send(this.url(path, options.query), {
      method,
      headers,
      body,
      signal: this.signal,
    });
    const text = await response.text();
    if (!response.ok) throw refusal(response.status, text, `${method} ${path}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }
}

/**
 * `attempt`, tried again after a pause (0.5 s, 1 s, 2 s) when the service or S3 could not
 * answer: a lost connection or a 5xx. For idempotent requests only (a part's signing and PUT,
 * a chunk, the completion); a refusal (4xx) or Ctrl-C ends it at once.
 */
export async function retrying<T>(signal: AbortSignal, attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      const transient = error instanceof CliError && error.exitCode === EXIT.unavailable;
      if (!transient || tries === RETRIES || signal.aborted) throw error;
      await sleep(500 * 2 ** (tries - 1), undefined, { signal }).catch(() => {
        throw new Interrupted();
      });
    }
  }
}

const RETRIES = 4;

/** fetch, with a connection failure told as one (and Ctrl-C as an interruption). */
export async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (init.signal?.aborted) throw new Interrupted();
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const origin = new URL(url).origin;
    throw new CliError(
      `Cannot reach ${origin}: ${cause?.code ?? cause?.message ?? String(error)}`,
      EXIT.unavailable,
    );
  }
}

/** The service's one error shape, `{statusCode, error, message}`, as a CliError. */
export function refusal(status: number, text: string, what: string): CliError {
  let message = text.trim().slice(0, 500) || `HTTP ${status}`;
  try {
    const body = JSON.parse(text) as { message?: unknown; error?: unknown };
    if (typeof body.message === 'string') message = body.message;
  } catch {
    // not the service's JSON (S3's XML, a proxy's page): its text is the message
  }
  // Another server's echo of the request (S3's XML names the Authorization header it refused)
  // must not print the token.
  const redacted = message.replace(/eyJ[\w-]*\.[\w-]*\.[\w-]*/g, '<token>');
  return new CliError(`${what}: ${status} ${redacted}`, exitCodeOf(status), status);
}
