import type { StoredChunk } from './assembly-plan';
import type { Content, FileRecord, PendingUpload, UploadedPart } from './file';
import type { Principal, Role } from './principal';

/** File records (DynamoDB). Every state change is a conditional write. */
export interface FileRecords {
  get(companyId: string, fileId: string): Promise<FileRecord | undefined>;
  /** Fails with Conflict if a record with this id exists. */
  create(record: FileRecord): Promise<void>;
  /**
   * Makes `content` current if the record exists, is not being deleted, has no upload in
   * progress, and its current content revision is still `expectedRevision` (undefined: no
   * content yet). Returns the updated record, or undefined when that no longer holds.
   */
  replaceContent(
    companyId: string,
    fileId: string,
    content: Content,
    expectedRevision: string | undefined,
    now: number,
  ): Promise<FileRecord | undefined>;
  /**
   * Starts `upload` unless one is already in progress, in one atomic write, and returns the
   * record with whichever upload is now in progress. Undefined if the file is gone, or is
   * complete and `overwrite` is false.
   */
  startUpload(
    companyId: string,
    fileId: string,
    upload: PendingUpload,
    overwrite: boolean,
  ): Promise<FileRecord | undefined>;
  /**
   * Records chunk `chunkNumber` of the upload of `revision` once. Returns the record after
   * it, or undefined when the chunk was already recorded, or the upload is no longer
   * receiving chunks (assembling, complete, replaced or deleted).
   */
  recordChunk(
    companyId: string,
    fileId: string,
    revision: string,
    chunkNumber: number,
    size: number,
  ): Promise<FileRecord | undefined>;
  /** Notes a multipart part uploaded ahead of completion; false if the upload moved on. */
  recordPart(
    companyId: string,
    fileId: string,
    revision: string,
    part: number,
    uploaded: UploadedPart,
  ): Promise<boolean>;
  /**
   * Moves a fully received upload to `assembling`: exactly one caller wins. A claim older
   * than `staleBefore` (its assembler died) may be taken over.
   */
  claimAssembly(
    companyId: string,
    fileId: string,
    revision: string,
    now: number,
    staleBefore: number,
  ): Promise<boolean>;
  /** Gives a claim back after a failed assembly, so a retry can claim it again. */
  releaseAssembly(companyId: string, fileId: string, revision: string): Promise<void>;
  /** Makes an assembled upload the file's content, if it is still the upload in progress. */
  completeUpload(
    companyId: string,
    fileId: string,
    revision: string,
    content: Content,
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
  /** Key -> size of every object under the prefix. */
  sizes(prefix: string): Promise<Map<string, number>>;
  /** S3 multipart upload of `key`: the object appears only on completion, whole. */
  startMultipart(key: string, contentType: string): Promise<string>;
  /**
   * Uploads part `part` as the concatenation of `chunks`, read from storage except those
   * whose bytes are given in `inMemory`. Only the part is in memory, never the file.
   * Returns its ETag.
   */
  uploadPart(
    key: string,
    uploadId: string,
    part: number,
    chunks: StoredChunk[],
    inMemory?: ReadonlyMap<string, Uint8Array>,
  ): Promise<string>;
  completeMultipart(
    key: string,
    uploadId: string,
    parts: { part: number; etag: string }[],
  ): Promise<void>;
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /** Removes every object under the prefix; safe to repeat. */
  deletePrefix(prefix: string): Promise<void>;
  presignGet(key: string, options: PresignOptions): Promise<string>;
}

export interface AssemblyJob {
  company_id: string;
  file_id: string;
  revision: string;
}

/** Runs assemblies too large for the request that completes the upload (async Lambda). */
export interface Assemblies {
  enqueue(job: AssemblyJob): Promise<void>;
}

export interface Limits {
  maxFileBytes: number;
  /** Uploads up to this size are assembled within the completing request. */
  syncAssemblyMaxBytes: number;
  /** An assembly claim older than this is presumed dead. */
  assemblyLeaseMs: number;
}

export interface Services {
  records: FileRecords;
  members: Memberships;
  blobs: BlobStore;
  assemblies: Assemblies;
  limits: Limits;
  now: () => number;
  /** Failures the caller cannot act on but an operator should see. */
  warn: (message: string, detail: Record<string, unknown>) => void;
  downloadUrlTtlSeconds: number;
}
