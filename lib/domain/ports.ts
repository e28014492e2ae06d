import type { Content, FileRecord } from './file';
import type { Principal, Role } from './principal';

/** File records (DynamoDB). Every state change is a conditional write. */
export interface FileRecords {
  get(companyId: string, fileId: string): Promise<FileRecord | undefined>;
  /** Fails with Conflict if a record with this id exists. */
  create(record: FileRecord): Promise<void>;
  /**
   * Makes `content` current if the record exists, is not being deleted and its current
   * content revision is still `expectedRevision` (undefined: no content yet). Returns the
   * updated record, or undefined when the condition no longer holds.
   */
  replaceContent(
    companyId: string,
    fileId: string,
    content: Content,
    expectedRevision: string | undefined,
    now: number,
  ): Promise<FileRecord | undefined>;
  /** Hides the record from readers while its objects are removed; false if it is gone. */
  markDeleting(companyId: string, fileId: string): Promise<boolean>;
  remove(companyId: string, fileId: string): Promise<void>;
}

export interface Memberships {
  roleOf(companyId: string, principal: Principal): Promise<Role | undefined>;
}

export interface PresignOptions {
  contentType: string;
  contentDisposition: string;
  expiresInSeconds: number;
}

/** File bytes (S3). */
export interface BlobStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** Removes every object under the prefix; safe to repeat. */
  deletePrefix(prefix: string): Promise<void>;
  presignGet(key: string, options: PresignOptions): Promise<string>;
}

export interface Services {
  records: FileRecords;
  members: Memberships;
  blobs: BlobStore;
  now: () => number;
  /** Failures the caller cannot act on but an operator should see. */
  warn: (message: string, detail: Record<string, unknown>) => void;
  downloadUrlTtlSeconds: number;
}
