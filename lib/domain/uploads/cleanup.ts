import type { DomainError } from '../errors';
import type { FileRecord, PendingUpload } from '../file';
import { keys } from '../ids';
import type { RecordServices, StorageServices } from '../ports';
import { revisionRef } from '../refs';

/** Ending uploads and revisions: what stays behind in S3 is removed, best effort. */

type Identified = Pick<FileRecord, 'company_id' | 'id'>;

/** A failure the caller cannot act on: logged for an operator, the work goes on. */
export async function bestEffort(
  s: RecordServices,
  message: string,
  detail: Record<string, unknown>,
  work: () => Promise<unknown>,
): Promise<void> {
  try {
    await work();
  } catch (error) {
    s.warn(message, { ...detail, error });
  }
}

/** Best effort: the bucket's lifecycle rule aborts what this leaves. */
export const abortQuietly = (s: StorageServices, key: string, uploadId: string) =>
  bestEffort(s, 'could not abort a multipart upload', { key }, () =>
    s.blobs.abortMultipart(key, uploadId),
  );

/**
 * Ends what an upload holds in S3 (its multipart upload and its chunks; for a direct upload,
 * also its data, which a completion that failed after S3 completed may have left); the record
 * stays.
 */
export async function discardUpload(
  s: StorageServices,
  record: Identified,
  upload: PendingUpload,
): Promise<void> {
  const { company_id: companyId, id: fileId } = record;
  const { revision } = upload;
  await abortQuietly(s, keys.data(companyId, fileId, revision), upload.multipart_id);
  await bestEffort(s, 'could not remove the chunks of an upload', { fileId, revision }, () =>
    s.blobs.deletePrefix(keys.chunksPrefix(companyId, fileId, revision)),
  );
  if (upload.direct) {
    await bestEffort(s, 'could not remove the data of an upload', { fileId, revision }, () =>
      s.blobs.deletePrefix(keys.revisionPrefix(companyId, fileId, revision)),
    );
  }
}

/** Drops an upload that will never complete from the record and S3, keeping the content. */
export async function dropUpload(s: StorageServices, record: FileRecord): Promise<void> {
  if (!record.upload) return;
  await s.records.cancelUpload(revisionRef(record, record.upload.revision));
  await discardUpload(s, record, record.upload);
}

/** An upload that can never complete as sent is dropped, so the client can start again. */
export async function refuse(
  s: StorageServices,
  record: Identified,
  upload: PendingUpload,
  error: DomainError,
): Promise<never> {
  await s.records.cancelUpload(revisionRef(record, upload.revision));
  await discardUpload(s, record, upload);
  throw error;
}

/**
 * Old revisions are removed once the new one is current. A failure here leaves only stray
 * objects under the file's prefix, which delete removes with everything else.
 */
export async function dropRevision(s: StorageServices, record: Identified, revision: string) {
  await bestEffort(s, 'could not remove a replaced revision', { fileId: record.id, revision }, () =>
    s.blobs.deletePrefix(keys.revisionPrefix(record.company_id, record.id, revision)),
  );
}

/** Removes a file whole: record marked, upload ended, every object, then the record. */
export async function purgeFile(
  s: StorageServices,
  companyId: string,
  fileId: string,
): Promise<boolean> {
  // The record as marked, so an upload that started meanwhile is ended too.
  const marked = await s.records.markDeleting({ companyId, fileId });
  if (!marked.ok) return false;
  if (marked.record.upload) await discardUpload(s, marked.record, marked.record.upload);
  await s.blobs.deletePrefix(keys.filePrefix(companyId, fileId));
  await s.blobs.deletePrefix(keys.uploadsPrefix(companyId, fileId));
  await s.records.remove({ companyId, fileId });
  return true;
}
