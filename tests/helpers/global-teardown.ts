import type { ChildProcess } from 'node:child_process';
import { stopLocalStack } from '../../scripts/local/stack-process';

export default async function globalTeardown(): Promise<void> {
  const stack = (globalThis as { __STACK__?: { child: ChildProcess; dataDir: string } }).__STACK__;
  if (stack) await stopLocalStack(stack, { keepData: Boolean(process.env['KEEP_TEST_STACK']) });
}
