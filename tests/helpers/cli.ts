import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

export interface CliResult {
  /** The exit status as a shell reports it (`$?`): 128 + the signal for one that ended it. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  /** Resolves once stderr matches `pattern` (progress lines, a message), with the match. */
  waitFor(pattern: RegExp): Promise<RegExpMatchArray>;
  /** Ctrl-C, as a terminal sends it: SIGINT to the whole process group (npx and the CLI). */
  interrupt(): void;
  done: Promise<CliResult>;
}

/**
 * `npx serverless-files …` from the clone, as a person runs it, in a process group of its own.
 * It is killed if it outlives `timeoutMs`.
 */
export function startCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): CliProcess {
  const child = spawn('npx', ['serverless-files', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];
  child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr.on('data', (data: Buffer) => {
    stderr += data.toString();
    for (const waiter of [...waiters]) {
      const match = stderr.match(waiter.pattern);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  });
  const group = (signal: NodeJS.Signals) => {
    if (child.pid && child.exitCode === null) process.kill(-child.pid, signal);
  };
  const timer = setTimeout(() => group('SIGKILL'), timeoutMs);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // npm passes a signal on by ending itself with it, once the CLI has ended.
      const status = code ?? 128 + (signal ? constants.signals[signal] : 0);
      resolve({ code: status, stdout, stderr });
    });
  });
  return {
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const match = stderr.match(pattern);
        if (match) return resolve(match);
        waiters.push({ pattern, resolve });
        void done.then(({ stderr: all }) =>
          reject(new Error(`The CLI ended before printing ${pattern}:\n${all}`)),
        );
      }),
    interrupt: () => group('SIGINT'),
    done,
  };
}

export const runCli = (args: string[], env: Record<string, string>) => startCli(args, env).done;
