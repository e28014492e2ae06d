import type { ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';

export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as { __STACK__?: { child: ChildProcess; dataDir: string } }).__STACK__;
  if (!stack) return;
  const { child, dataDir } = stack;
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (!process.env['KEEP_TEST_STACK']) await rm(dataDir, { recursive: true, force: true });
}
