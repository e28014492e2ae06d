import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { S3Event } from 'aws-lambda';
import { contentRefOf, makeThumbnails } from '../../lib/domain/thumbnails';
import { logger } from '../../lib/logger';
import { services } from '../../lib/services/storage';
import { thumbnailer } from '../../lib/thumbnails';

/**
 * ObjectCreated on files/…/{revision}/data: the revision's thumbnails. S3 delivers events at
 * least once, late or twice; makeThumbnails ignores those that no longer apply. A crash or a
 * timeout makes Lambda run it again; the third run records `error`.
 */
export const handler = middy<S3Event, void>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler(async (event) => {
    for (const record of event.Records) {
      // Keys in S3 events are URL-encoded, spaces as '+'.
      const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
      const ref = contentRefOf(key);
      if (!ref) continue;
      logger.appendKeys({ company_id: ref.companyId, file_id: ref.fileId });
      const status = await makeThumbnails(services, thumbnailer, ref);
      logger.info('thumbnails', { revision: ref.revision, status: status ?? 'skipped' });
    }
  });
