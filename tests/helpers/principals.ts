import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

export type Who =
  | { company: string; user: string; role?: 'member' | 'admin' }
  | { company: string; application: string };

/**
 * Mints a token with `npm run token`'s script, which also records the membership: in the
 * test run's stack, or in the one whose data folder `stack` names.
 */
export async function tokenFor(who: Who, stack?: { dataDir: string }): Promise<string> {
  const args =
    'user' in who
      ? ['--company', who.company, '--user', who.user, '--role', who.role ?? 'member']
      : ['--company', who.company, '--application', who.application];
  const { stdout } = await run(process.execPath, [path.join(root, 'scripts/token.mts'), ...args], {
    cwd: root,
    env: stack ? { ...process.env, LOCAL_DATA_DIR: stack.dataDir } : process.env,
  });
  return stdout.trim();
}

/** A fresh company id per test file keeps tests independent on the shared stack. */
export function newCompanyId(): string {
  return randomUUID();
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
