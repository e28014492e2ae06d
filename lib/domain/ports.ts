import type { StoredChunk } from './assembly-plan';
import type {
  Content,
  FileRecord,
  PendingUpload,
  ReceivedChunk,
  Thumbnail,
  UploadedPart,
} from './file';
import type { Principal, Role } from './principal';

/** File records (DynamoDB). Every state change is a conditional write. */
export interface FileRecords {
  get(companyId: string, fileId: string): Promise<FileRecord | undefined>;
  /** Every record, or a company's, page by page (the sweeper's walk). */
  list(companyId?: string): AsyncIterable<FileRecord>;
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
   * Starts `upload` unless one is already in progress (or replaces the upload of revision
   * `replacing`), in one atomic write, and returns the record with whichever upload is now in
   * progress. Undefined if the file is gone, is complete and `overwrite` is false, or the
   * upload to replace is no longer there.
   */
  startUpload(
    companyId: string,
    fileId: string,
    upload: PendingUpload,
    options: {
      overwrite: boolean;
      replacing?: string;
      /**
       * Not started (an upload in progress is still joined) while the content has this
       * upload's totals and had a chunk answered as a late retry, if it completed after this.
       */
      retriedSince?: number;
    },
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
    chunk: ReceivedChunk,
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
   * Moves a fully received upload to `assembling` under the fencing token `claim` until
   * `until`: exactly one caller wins. A claim that lapsed (its holder died) may be taken over.
   */
  claimAssembly(
    companyId: string,
    fileId: string,
    revision: string,
    claim: number,
    until: number,
  ): Promise<boolean>;
  /** Extends the holder's claim, for an assembly handed to the asynchronous assembler. */
  renewClaim(
    companyId: string,
    fileId: string,
    revision: string,
    claim: number,
    until: number,
  ): Promise<boolean>;
  /** Gives the holder's claim back after a failure, so a retry can claim again. */
  releaseAssembly(
    companyId: string,
    fileId: string,
    revision: string,
    claim: number,
  ): Promise<void>;
  /** Makes an assembled upload the file's content, if `claim` still holds it. */
  completeUpload(
    companyId: string,
    fileId: string,
    revision: string,
    claim: number,
    content: Content,
  ): Promise<FileRecord | undefined>;
  /**
   * Notes on the content of `revision` that a chunk of it is answered as a late retry, unless
   * an upload started meanwhile (the chunk then belongs to it) or the content completed
   * before `since`. False when not noted.
   */
  markRetried(companyId: string, fileId: string, revision: string, since: number): Promise<boolean>;
  /** Drops the upload of `revision` from the record (it can never complete). */
  cancelUpload(companyId: string, fileId: string, revision: string): Promise<void>;
  /**
   * Starts an attempt at the thumbnails of `revision`, holding it until `until`: counts it
   * and returns its number, or undefined when they are no longer awaited (done, other
   * content) or another attempt holds them.
   */
  beginThumbnails(
    companyId: string,
    fileId: string,
    revision: string,
    now: number,
    until: number,
  ): Promise<number | undefined>;
  /** Lets the next attempt start at once, after a failed one. */
  abandonThumbnails(companyId: string, fileId: string, revision: string): Promise<void>;
  /** Sets the outcome if `revision` is still the content and its thumbnails are awaited. */
  finishThumbnails(
    companyId: string,
    fileId: string,
    revision: string,
    outcome: { status: 'done' | 'error'; thumbnails: Thumbnail[] },
  ): Promise<boolean>;
  /** Hides the record from readers while its objects are removed; undefined if it is gone. */
  markDeleting(companyId: string, fileId: string): Promise<FileRecord | undefined>;
  remove(companyId: string, fileId: string): Promise<void>;
}

export interface Memberships {
  roleOf(companyId: string, principal: Principal): Promise<Role | undefined>;
  /** The principal's role and the file's record, read together in one round trip. */
  roleAndFile(
    companyId: string,
    fileId: string,
    principal: Principal,
  ): Promise<{ role: Role | undefined; record: FileRecord | undefined }>;
}

export interface PresignOptions {
  contentType: string;
  contentDisposition: string;
  expiresInSeconds: number;
}

/** File bytes (S3). */
export interface BlobStore {
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** The whole object; callers check its size first. */
  get(key: string): Promise<Uint8Array>;
  /** `length` (> 0) bytes of the object from `start`; undefined if the object is gone. */
  getRange(key: string, start: number, length: number): Promise<Uint8Array | undefined>;
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
  /** The claim handed over with the job. */
  claim: number;
}

/** Runs assemblies too large for the request that completes the upload (async Lambda). */
export interface Assemblies {
  enqueue(job: AssemblyJob): Promise<void>;
}

/** Thumbnail images of a file, as the renderer made them. */
export interface RenderedThumbnail {
  bytes: Uint8Array;
  type: string;
  ext: string;
  width: number;
  height: number;
}

/** The previewers (sharp, pdf.js, ffmpeg): loaded by the thumbnail function only. */
export interface Thumbnailer {
  /** Undefined when the file is of no previewable kind; throws when it cannot be rendered. */
  render(
    bytes: Uint8Array,
    file: { mime: string; name: string },
  ): Promise<RenderedThumbnail[] | undefined>;
}

/** Decides, without loading a previewer, whether new content gets thumbnails. */
export interface Previews {
  mayPreview(mime: string, name: string, size: number): boolean;
  /** Inputs above this size are not previewed. */
  maxBytes: number;
}

export interface Limits {
  maxFileBytes: number;
  /** Uploads up to this size are assembled within the completing request. */
  syncAssemblyMaxBytes: number;
  /** How long the asynchronous assembler's claim lasts (longer than its timeout). */
  assemblyLeaseMs: number;
  /** An upload started longer ago than this may be replaced (its chunks expire after a day). */
  uploadMaxAgeMs: number;
}

export interface Services {
  records: FileRecords;
  members: Memberships;
  blobs: BlobStore;
  assemblies: Assemblies;
  previews: Previews;
  limits: Limits;
  now: () => number;
  /** Failures the caller cannot act on but an operator should see. */
  warn: (message: string, detail: Record<string, unknown>) => void;
  downloadUrlTtlSeconds: number;
}

/**
 * What a function can reach, by the AWS clients it bundles and its IAM role allows: records
 * alone (DynamoDB), records and storage (plus S3), or everything (plus Lambda, to hand an
 * upload to the asynchronous assembler). Each domain operation asks for the least it needs.
 */
export type RecordServices = Omit<Services, 'blobs' | 'assemblies'>;
export type StorageServices = Omit<Services, 'assemblies'>;
