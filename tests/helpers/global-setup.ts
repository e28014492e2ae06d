import { startLocalStack, stackEnvironment } from '../../scripts/local/stack-process';

/**
 * Jest runs this once, in the parent process, before any worker starts: the workers inherit
 * the environment set here, so handlers imported in integration tests use the same emulators
 * as the offline API the end-to-end tests call.
 */
export default async function globalSetup(): Promise<void> {
  const { child, dataDir, info } = await startLocalStack();
  (globalThis as { __STACK__?: unknown }).__STACK__ = { child, dataDir };
  Object.assign(process.env, stackEnvironment(info, dataDir));
}
