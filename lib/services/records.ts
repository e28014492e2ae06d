import { fileRecords, memberships } from '../aws/dynamodb';
import { config } from '../config';
import type { RecordServices } from '../domain/ports';
import { logger } from '../logger';
import { mayPreview } from '../thumbnails/kinds';

/**
 * The domain's ports over DynamoDB alone. A function imports the narrowest of
 * `services/records`, `services/storage` and `services/full` that its operations accept, so
 * its bundle holds only the SDK clients it uses (and its IAM role allows).
 */
export const services: RecordServices = {
  records: fileRecords,
  members: memberships,
  previews: {
    mayPreview: (mime, name, size) =>
      mayPreview(mime, name, size, {
        maxBytes: config.thumbnailMaxBytes,
        kinds: { office: config.officePreviews },
      }),
    maxBytes: config.thumbnailMaxBytes,
  },
  limits: {
    maxFileBytes: config.maxFileBytes,
    syncAssemblyMaxBytes: config.syncAssemblyMaxBytes,
    assemblyLeaseMs: config.assemblyLeaseSeconds * 1000,
    uploadMaxAgeMs: config.uploadMaxAgeSeconds * 1000,
    maxDirectFileBytes: config.maxDirectFileBytes,
    partUrlTtlSeconds: config.partUrlTtlSeconds,
  },
  now: Date.now,
  warn: (message, detail) => logger.warn(message, detail),
  downloadUrlTtlSeconds: config.downloadUrlTtlSeconds,
};
