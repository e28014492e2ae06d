import type { Principal } from './principal';
import type { LinkFor } from './read-links';

export type ThumbnailsStatus = 'waiting' | 'done' | 'error';

export interface Thumbnail {
  index: number;
  id: string;
  type: string;
  size: number;
  width: number;
  height: number;
  /** On the first thumbnail: placeholders to paint before it arrives (thumbnails/placeholder.ts). */
  thumbhash?: string;
  blurhash?: string;
}

/** The complete content of a file: one object at keys.data(company, file, revision). */
export interface Content {
  revision: string;
  name: string;
  mime: string;
  size: number;
  chunks: number;
  /**
   * The size of every chunk but the last, when they were all alike: where each chunk lies in
   * the data, to tell an application's late retry of one from the start of an overwrite.
   */
  chunk_size?: number;
  /** An application's chunk of this upload came again after it completed, and was answered. */
  retried?: boolean;
  thumbnails_status: ThumbnailsStatus;
  thumbnails: Thumbnail[];
  /** When this revision became the content: retries of its chunks shortly after are harmless. */
  completed_at?: number;
  /** Runs of the thumbnailer on this revision; a crashed or timed-out run counts too. */
  thumbnail_attempts?: number;
  /** Until when the current run holds the thumbnails; duplicates of its event skip them. */
  thumbnail_lease?: number;
  /**
   * S3's checksum of the data when the client sent one with every part (direct uploads):
   * the checksum of the parts' checksums, `-` and their count, as S3 reports it.
   */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
  /** Sent straight to S3 (a direct upload): `chunks` counts its parts, none can come again. */
  direct?: true;
}

/** The checksums S3 verifies on a part sent straight to it. */
export type ChecksumAlgorithm = 'CRC32C' | 'SHA256';

/**
 * A chunk as recorded, in an item of its own: each attempt writes its own key (keys.chunk with
 * its nonce), and only the recorded one counts.
 */
export interface ReceivedChunk {
  size: number;
  nonce: string;
}

/** A multipart part uploaded as soon as its chunks were all in. */
export interface UploadedPart {
  etag: string;
  size: number;
}

/**
 * An upload of several chunks in progress: a revision whose chunks are stored under
 * keys.chunk(company, file, revision, n) until all of them are there and they are assembled.
 */
export interface PendingUpload {
  revision: string;
  name: string;
  mime: string;
  total_chunks: number;
  /** 0 when the client did not say. */
  total_size: number;
  started_at: number;
  state: 'receiving' | 'assembling';
  /** Fencing token of the assembly claim: only its holder may complete or release it. */
  claim?: number;
  /** When the claim lapses: a claim whose holder died is taken over after that. */
  claim_until?: number;
  /** Chunks recorded (each in an item of its own, FileRecords.chunks): counted with each. */
  chunk_count: number;
  /**
   * The S3 multipart upload that becomes the revision's `data`. Parts of `part_chunks`
   * consecutive chunks are uploaded as soon as their chunks are in (FileRecords.parts), so
   * completing the upload is mostly S3's CompleteMultipartUpload.
   */
  multipart_id: string;
  part_chunks: number;
  /**
   * Sent by the client straight to S3, part by part (uploads/direct-*.ts): no chunks
   * (`total_chunks` 0), `multipart_id` is the upload the client's parts go to.
   */
  direct?: true;
  /** A direct upload whose every part must carry this checksum, which S3 verifies. */
  checksum_algorithm?: ChecksumAlgorithm;
  /**
   * A direct upload whose parts have this size (the last one the rest): each part URL is
   * signed with its exact length, so S3 can never hold more than the declared size.
   */
  part_size?: number;
}

/** What a client announced when it created the file without data. */
export interface Declared {
  name?: string;
  mime?: string;
  total_size?: number;
  total_chunks?: number;
}

/** The stored record (one DynamoDB item), snake_case like Twake's file entity. */
export interface FileRecord {
  company_id: string;
  id: string;
  user_id: string | null;
  application_id: string | null;
  created_at: number;
  updated_at: number;
  declared?: Declared;
  content?: Content;
  upload?: PendingUpload;
  /** Set by a delete in progress: the file is gone for readers, objects are being removed. */
  deleting?: boolean;
}

export type UploadStatus = 'uploading' | 'assembling' | 'complete';

/** Twake's public file object. Fields may be added, never renamed or removed. */
export interface PublicFile extends Pick<
  FileRecord,
  'company_id' | 'id' | 'user_id' | 'application_id' | 'created_at' | 'updated_at'
> {
  metadata: { name?: string; mime?: string; thumbnails_status?: ThumbnailsStatus } | null;
  /** `url` is a signed read link (read-links.ts) where the caller could sign one. */
  thumbnails: (Thumbnail & { url: string })[];
  /** `status` is ours: Twake clients ignore it. */
  upload_data: {
    size: number;
    chunks: number;
    status?: UploadStatus;
    /** S3's checksum of the data, when the parts were sent with theirs (direct uploads). */
    checksum?: { algorithm: ChecksumAlgorithm; value: string };
  } | null;
  /** Ours: a signed link that downloads the content with no token; null until it is complete. */
  download_url: string | null;
}

export const API_PREFIX = '/internal/services/files/v1';

export function thumbnailUrl(companyId: string, fileId: string, index: number): string {
  return `${API_PREFIX}/companies/${companyId}/files/${fileId}/thumbnails/${index}`;
}

export function downloadPath(companyId: string, fileId: string): string {
  return `${API_PREFIX}/companies/${companyId}/files/${fileId}/download`;
}

export function creatorOf(principal: Principal): Pick<FileRecord, 'user_id' | 'application_id'> {
  return principal.kind === 'user'
    ? { user_id: principal.userId, application_id: null }
    : { user_id: null, application_id: principal.applicationId };
}

export function isCreator(principal: Principal, record: FileRecord): boolean {
  return principal.kind === 'user'
    ? record.user_id === principal.userId
    : record.application_id === principal.applicationId;
}

export function toPublicFile(record: FileRecord, linkFor?: LinkFor): PublicFile {
  const { content, declared, upload } = record;
  const base = {
    company_id: record.company_id,
    id: record.id,
    user_id: record.user_id,
    application_id: record.application_id,
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
  if (content) {
    return {
      ...base,
      metadata: {
        name: content.name,
        mime: content.mime,
        thumbnails_status: content.thumbnails_status,
      },
      thumbnails: content.thumbnails.map((thumbnail) => ({
        ...thumbnail,
        url:
          linkFor?.({ kind: 'thumbnail', index: thumbnail.index }) ??
          thumbnailUrl(record.company_id, record.id, thumbnail.index),
      })),
      upload_data: {
        size: content.size,
        chunks: content.chunks,
        status: 'complete',
        ...(content.checksum && { checksum: content.checksum }),
      },
      download_url: linkFor?.({ kind: 'download' }) ?? null,
    };
  }
  if (upload) {
    return {
      ...base,
      metadata: { name: upload.name, mime: upload.mime },
      thumbnails: [],
      upload_data: {
        size: upload.total_size,
        chunks: upload.total_chunks,
        status: upload.state === 'assembling' ? 'assembling' : 'uploading',
      },
      download_url: null,
    };
  }
  const hasMetadata = declared?.name !== undefined || declared?.mime !== undefined;
  const hasTotals = declared?.total_size !== undefined || declared?.total_chunks !== undefined;
  return {
    ...base,
    metadata: hasMetadata ? { name: declared?.name, mime: declared?.mime } : null,
    thumbnails: [],
    upload_data: hasTotals
      ? { size: declared?.total_size ?? 0, chunks: declared?.total_chunks ?? 1 }
      : null,
    download_url: null,
  };
}
