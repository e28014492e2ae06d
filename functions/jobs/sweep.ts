import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { config } from '../../lib/config';
import { sweep, type SweepReport } from '../../lib/domain/sweeper';
import { logger } from '../../lib/logger';
import { services } from '../../lib/services/full';

/**
 * Scheduled (hourly) and on demand (`npm run sweep`). An on-demand event may narrow the
 * pass to one company and shorten the ages, as the tests do.
 */
interface SweepEvent {
  company_id?: string;
  abandoned_after_seconds?: number;
  stuck_after_seconds?: number;
}

export const handler = middy<SweepEvent, SweepReport>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    const report = await sweep(
      services,
      {
        abandonedAfterMs: (event.abandoned_after_seconds ?? config.abandonedUploadSeconds) * 1000,
        stuckAfterMs: (event.stuck_after_seconds ?? config.stuckAfterSeconds) * 1000,
      },
      event.company_id,
    );
    logger.info('swept', { ...report });
    return report;
  });
