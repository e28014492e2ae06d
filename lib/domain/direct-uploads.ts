import type { FileRecord, PublicFile } from './file';
import { present } from './files';
import type { StorageServices } from './ports';
import type { LinkSigning } from './read-links';
import { awaitThumbnails } from './thumbnails';
import {
  abortDirectUpload,
  completeDirectUpload,
  createDirectUpload,
  listParts,
  signParts,
} from './uploads';
import type { CompleteRequest } from './uploads/direct-completion';
import type { DirectCreate, DirectRef } from './uploads/direct-start';

/**
 * The routes of direct uploads (`…/companies/{c}/s3/multipart…`) in the shapes Uppy's S3
 * plugin reads from Companion, with the file's resource beside them (Uppy ignores it).
 */

const apiBase = '/internal/services/files/v1';
const downloadPath = (record: FileRecord) =>
  `${apiBase}/companies/${record.company_id}/files/${record.id}/download`;

export async function startDirect(
  s: StorageServices,
  request: DirectCreate & { links: LinkSigning },
): Promise<{ key: string; uploadId: string; file_id: string; resource: PublicFile }> {
  const { key, uploadId, record } = await createDirectUpload(s, request);
  return { key, uploadId, file_id: record.id, resource: present(s, record, request.links) };
}

export { signPart as signDirectPart } from './uploads';

/** Several parts at once (Companion's batch form): URLs by part number. */
export async function signDirectParts(
  s: StorageServices,
  request: DirectRef & { partNumbers: number[] },
): Promise<{ presignedUrls: Record<number, string> }> {
  const signed = await signParts(s, request, request.partNumbers);
  return {
    presignedUrls: Object.fromEntries([...signed].map(([part, { url }]) => [part, url])),
  };
}

/** S3's ListParts, in its own field names (Uppy resumes from it). */
export async function listDirectParts(s: StorageServices, ref: DirectRef) {
  const held = await listParts(s, ref);
  return held.map(({ part, size, etag, checksum }) => ({
    PartNumber: part,
    Size: size,
    ETag: etag,
    ...(checksum && { Checksum: checksum }),
  }));
}

export async function completeDirect(
  s: StorageServices,
  request: CompleteRequest & { thumbnailSync: boolean; budgetMs: number; links: LinkSigning },
): Promise<{ location: string; key: string; resource: PublicFile }> {
  const record = await completeDirectUpload(s, request);
  const current = request.thumbnailSync
    ? await awaitThumbnails(s, record, request.budgetMs)
    : record;
  return {
    location: downloadPath(current),
    key: request.key!,
    resource: present(s, current, request.links),
  };
}

export async function abortDirect(s: StorageServices, ref: DirectRef): Promise<object> {
  await abortDirectUpload(s, ref);
  return {};
}
