import type { StoredChunk } from './assembly-plan';
import type {
  ChecksumAlgorithm,
  Content,
  FileRecord,
  PendingUpload,
  ReceivedChunk,
  Thumbnail,
  UploadedPart,
} from './file';
import type { GuardName, Written } from './lifecycle';
import type { FileKey, RevisionRef } from './refs';
import type { Principal, Role } from './principal';

/** How an upload starts: see `start`, `overwrite`, `restart` in lifecycle.ts. */
export type StartAs =
  | { as: 'start' }
  | { as: 'overwrite'; retriedSince: number }
  | { as: 'restart' | 'restartOverwrite'; replacing: string };

/** A chunk's recording: refused when already recorded, or by the file's guards. */
export type Recorded =
  | { ok: true }
  | { ok: false; failed: 'alreadyRecorded' }
  | { ok: false; failed: GuardName; record: FileRecord | undefined };

/**
 * File records (DynamoDB), and the chunks and parts of their uploads. Every change of a
 * record is a transition of lifecycle.ts, written only while its guards hold; a refused one
 * reports the guard that failed and the record as it then was.
 */
export interface FileRecords {
  get(file: FileKey): Promise<FileRecord | undefined>;
  /** Every record, or a company's, page by page (the sweeper's walk). */
  list(companyId?: string): AsyncIterable<FileRecord>;
  /** `create`; with `firstChunk`, that chunk of the record's upload is recorded with it. */
  create(
    record: FileRecord,
    firstChunk?: { chunkNumber: number; chunk: ReceivedChunk },
  ): Promise<Written>;
  /** `replaceContent`: `content` becomes current if the content is still `expected`. */
  replaceContent(
    file: FileKey,
    content: Content,
    expected: string | undefined,
    now: number,
  ): Promise<Written>;
  /**
   * Starts `upload`, or joins the one already in progress (`start`, `overwrite`), or replaces
   * the upload `replacing` (`restart…`). The record tells which upload is now in progress.
   */
  startUpload(file: FileKey, upload: PendingUpload, how: StartAs): Promise<Written>;
  /** `recordChunk`: chunk n, once, in one atomic write with the upload's count. */
  recordChunk(
    upload: RevisionRef,
    chunkNumber: number,
    chunk: ReceivedChunk,
    now: number,
  ): Promise<Recorded>;
  /** The recorded chunks of an upload, by number, all of them or those from..to. */
  chunks(
    upload: RevisionRef,
    range?: { from: number; to: number },
  ): Promise<Map<number, ReceivedChunk>>;
  /** Takes part `part` to upload ahead of completion: true for exactly one caller. */
  claimPart(upload: RevisionRef, part: number): Promise<boolean>;
  /** Notes the part the claim's holder uploaded. */
  recordPart(upload: RevisionRef, part: number, uploaded: UploadedPart): Promise<void>;
  /** The parts uploaded ahead, by number. */
  parts(upload: RevisionRef): Promise<Map<number, UploadedPart>>;
  /**
   * `claim`: the fully received upload is assembled under the fencing token `claim` until
   * `until`; exactly one caller wins. A claim that lapsed (its holder died) may be taken over.
   */
  claimAssembly(upload: RevisionRef, claim: number, until: number): Promise<Written>;
  /** `renewClaim`, for an assembly handed to the asynchronous assembler. */
  renewClaim(upload: RevisionRef, claim: number, until: number): Promise<Written>;
  /** `release`: the holder gives its claim back after a failure, so a retry can claim again. */
  releaseAssembly(upload: RevisionRef, claim: number): Promise<Written>;
  /** `complete`: the assembled upload becomes the file's content. */
  completeUpload(upload: RevisionRef, claim: number, content: Content): Promise<Written>;
  /** `markRetried`: a chunk of the content was answered as a late retry. */
  markRetried(content: RevisionRef, since: number): Promise<Written>;
  /** `cancel`: the upload is dropped (it can never complete). */
  cancelUpload(upload: RevisionRef): Promise<Written>;
  /**
   * `beginThumbnails`: an attempt at the content's thumbnails, holding them until `until`,
   * counted in `content.thumbnail_attempts`.
   */
  beginThumbnails(content: RevisionRef, now: number, until: number): Promise<Written>;
  /** `abandonThumbnails`: the next attempt may start at once, after a failed one. */
  abandonThumbnails(content: RevisionRef): Promise<Written>;
  /** `finishThumbnails`. */
  finishThumbnails(
    content: RevisionRef,
    outcome: { status: 'done' | 'error'; thumbnails: Thumbnail[] },
    now: number,
  ): Promise<Written>;
  /** `markDeleting`: hidden from readers while its objects are removed. */
  markDeleting(file: FileKey): Promise<Written>;
  remove(file: FileKey): Promise<void>;
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

/** A part of a multipart upload as S3 holds it (ListParts). */
export interface HeldPart {
  part: number;
  etag: string;
  size: number;
  /** The part's checksum, when the upload has a checksum algorithm. */
  checksum?: string;
}

/** A part URL signed for a client: what the PUT may carry, for at most `expiresInSeconds`. */
export interface PartSigning {
  expiresInSeconds: number;
  /** The part's exact size, when the client said it: S3 refuses any other. */
  contentLength?: number;
  /** The part's checksum, bound into the signature and verified by S3. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
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
  /**
   * S3 multipart upload of `key`: the object appears only on completion, whole. With a
   * checksum algorithm, every part must carry its checksum.
   */
  startMultipart(key: string, contentType: string, checksum?: ChecksumAlgorithm): Promise<string>;
  /** The parts S3 holds for the upload, by number; undefined when it is no more. */
  listParts(key: string, uploadId: string): Promise<HeldPart[] | undefined>;
  /** A URL that lets its holder PUT part `part` of the upload, and the headers it must send. */
  presignPart(
    key: string,
    uploadId: string,
    part: number,
    signing: PartSigning,
  ): Promise<{ url: string; headers: Record<string, string> }>;
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
  /** Returns S3's checksum of the object when the parts carried theirs. */
  completeMultipart(
    key: string,
    uploadId: string,
    parts: { part: number; etag: string; checksum?: string }[],
    checksum?: ChecksumAlgorithm,
  ): Promise<string | undefined>;
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
  /** On the first one: placeholders a client paints before it arrives. */
  placeholder?: { thumbhash: string; blurhash: string };
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
  /** Files sent straight to S3 (uploads/direct-*.ts) may be this large. */
  maxDirectFileBytes: number;
  /** How long a part URL signed for a direct upload lives. */
  partUrlTtlSeconds: number;
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
