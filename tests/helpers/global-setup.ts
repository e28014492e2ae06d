import { startLocalStack } from './local-stack';

/**
 * Jest runs this once, in the parent process, before any worker starts: the workers inherit
 * the environment set here, so handlers imported in integration tests use the same emulators
 * as the offline API the end-to-end tests call.
 */
export default async function globalSetup(): Promise<void> {
  const { child, dataDir, info } = await startLocalStack();
  (globalThis as { __STACK__?: unknown }).__STACK__ = { child, dataDir };
  Object.assign(process.env, info.environment, {
    TEST_API_URL: info.api,
    TEST_STACK_PID: String(child.pid),
    LOCAL_DATA_DIR: dataDir,
    AWS_REGION: info.region,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
}
