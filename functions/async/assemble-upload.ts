import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { AssemblyJob } from '../../lib/domain/ports';
import { runAssembly } from '../../lib/domain/uploads';
import { logger } from '../../lib/logger';
import { services } from '../../lib/services/storage';

/**
 * Invoked asynchronously for uploads too large to assemble within the completing request.
 * A thrown error makes Lambda run it again (twice); a finished or deleted upload is a no-op.
 */
export const handler = middy<AssemblyJob, void>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (job) => {
    logger.appendKeys({ company_id: job.company_id, file_id: job.file_id });
    await runAssembly(services, job);
    logger.info('assembled', { revision: job.revision });
  });
