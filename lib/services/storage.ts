import { blobs } from '../aws/s3';
import type { StorageServices } from '../domain/ports';
import { services as records } from './records';

/** The domain's ports over DynamoDB and S3. */
export const services: StorageServices = { ...records, blobs };
