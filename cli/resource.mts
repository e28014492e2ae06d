/** The service's file resource (openapi.yaml's `File`), as the service's own code types it. */
import type { PublicFile } from '../lib/domain/file.ts';

export type FileResource = PublicFile;

export const complete = (resource: FileResource): boolean =>
  resource.upload_data?.status === 'complete';
