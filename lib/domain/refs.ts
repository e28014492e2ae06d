import type { FileRecord } from './file';

/** One file. */
export interface FileKey {
  companyId: string;
  fileId: string;
}

/** One revision of a file: an upload in progress, or the content it became. */
export interface RevisionRef extends FileKey {
  revision: string;
}

type Identified = Pick<FileRecord, 'company_id' | 'id'>;

export const fileKey = (record: Identified): FileKey => ({
  companyId: record.company_id,
  fileId: record.id,
});

export const revisionRef = (record: Identified, revision: string): RevisionRef => ({
  ...fileKey(record),
  revision,
});
