import { assemblies } from './aws/lambda';
import { blobs } from './aws/s3';
import { fileRecords, memberships } from './aws/dynamodb';
import { config } from './config';
import type { Services } from './domain/ports';
import { logger } from './logger';
import { mayPreview } from './thumbnails/kinds';

/** The domain's ports, implemented by the AWS adapters. */
export const services: Services = {
  records: fileRecords,
  members: memberships,
  blobs,
  assemblies,
  previews: {
    mayPreview: (mime, name, size) => mayPreview(mime, name, size, config.thumbnailMaxBytes),
    maxBytes: config.thumbnailMaxBytes,
  },
  limits: {
    maxFileBytes: config.maxFileBytes,
    syncAssemblyMaxBytes: config.syncAssemblyMaxBytes,
    assemblyLeaseMs: config.assemblyLeaseSeconds * 1000,
    uploadMaxAgeMs: config.uploadMaxAgeSeconds * 1000,
  },
  now: Date.now,
  warn: (message, detail) => logger.warn(message, detail),
  downloadUrlTtlSeconds: config.downloadUrlTtlSeconds,
};
