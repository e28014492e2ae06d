import { badRequest, conflict } from '../errors';
import type { ChecksumAlgorithm, PendingUpload } from '../file';
import type { HeldPart, StorageServices } from '../ports';
import {
  MAX_PART_BYTES,
  maxPartsOf,
  noSuchUpload,
  openUpload,
  pinnedSize,
  type DirectRef,
} from './direct-start';

/** The parts of a direct upload: URLs to send them to S3, and the list S3 holds. */

export interface PartRequest extends DirectRef {
  partNumber: number;
  /** The part's exact size, when the client says it: bound into the URL. */
  size?: number;
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

/** A URL for one part of the upload, valid for minutes. */
export async function signPart(s: StorageServices, request: PartRequest): Promise<SignedPart> {
  const { upload } = await openUpload(s, request);
  return signOpened(s, upload, request);
}

/** URLs for several parts (Companion's batch form), the upload opened once. */
export async function signParts(
  s: StorageServices,
  ref: DirectRef,
  partNumbers: number[],
): Promise<Map<number, SignedPart>> {
  const { upload } = await openUpload(s, ref);
  const signed = new Map<number, SignedPart>();
  for (const partNumber of partNumbers) {
    signed.set(partNumber, await signOpened(s, upload, { ...ref, partNumber }));
  }
  return signed;
}

export interface SignedPart {
  url: string;
  expires: number;
  headers: Record<string, string>;
}

async function signOpened(
  s: StorageServices,
  upload: PendingUpload,
  request: PartRequest,
): Promise<SignedPart> {
  if (upload.state === 'assembling') {
    throw conflict('This upload is being completed: its parts can no longer change');
  }
  const maxParts = maxPartsOf(upload);
  if (request.partNumber > maxParts) {
    throw badRequest(
      `partNumber ${request.partNumber} is beyond the ${maxParts} parts this upload may have ` +
        (upload.part_size
          ? `(${upload.total_size} bytes declared in parts of ${upload.part_size})`
          : upload.total_size
            ? `(${upload.total_size} bytes declared, every part but the last at least 5 MiB)`
            : '(S3 takes 10,000)'),
    );
  }
  const { checksum } = request;
  const pinned = pinnedSize(upload, request.partNumber);
  if (pinned !== undefined && request.size !== undefined && request.size !== pinned) {
    throw badRequest(`Part ${request.partNumber} of this upload holds ${pinned} bytes`);
  }
  const size = pinned ?? request.size;
  if (size !== undefined) checkSignedSize(upload, size);
  const algorithm = upload.checksum_algorithm;
  if (algorithm && checksum?.algorithm !== algorithm) {
    throw badRequest(`This upload checks every part's ${algorithm}: send it with the part`);
  }
  if (!algorithm && checksum) {
    throw badRequest(
      `This upload was created without a checksum algorithm: create it with ` +
        `metadata.checksum_algorithm=${checksum.algorithm} to send part checksums`,
    );
  }
  const ttl = s.limits.partUrlTtlSeconds;
  const signed = await s.blobs.presignPart(request.key!, upload.multipart_id, request.partNumber, {
    expiresInSeconds: ttl,
    ...(size !== undefined && { contentLength: size }),
    ...(checksum && { checksum }),
  });
  return { ...signed, expires: ttl };
}

function checkSignedSize(upload: PendingUpload, size: number): void {
  const limit = Math.min(upload.total_size || MAX_PART_BYTES, MAX_PART_BYTES);
  if (size > limit) {
    throw badRequest(`size ${size} is more than a part of this upload may hold (${limit})`);
  }
}

/** The parts S3 holds, for a client that resumes. */
export async function listParts(s: StorageServices, ref: DirectRef): Promise<HeldPart[]> {
  const { upload } = await openUpload(s, ref);
  const held = await s.blobs.listParts(ref.key!, upload.multipart_id);
  if (!held) throw noSuchUpload();
  return held;
}
