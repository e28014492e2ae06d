import { MIN_PART_BYTES } from '../assembly-plan';
import {
  MultipartRefused,
  badRequest,
  conflict,
  notFound,
  tooLarge,
  type DomainError,
} from '../errors';
import type { Content, FileRecord, PendingUpload } from '../file';
import { keys } from '../ids';
import { isGone } from '../lifecycle';
import type { HeldPart, StorageServices } from '../ports';
import { fileKey, revisionRef } from '../refs';
import { initialThumbnails } from '../thumbnails';
import { discardUpload, purgeFile, refuse } from './cleanup';
import { REQUEST_CLAIM_MS, settleCompletion } from './completion';
import { tooLargeFor } from './limits';
import { noSuchUpload, openDirect, type DirectRef } from './direct-start';

/**
 * A direct upload's end: completion (the parts S3 holds checked against the client's list, the
 * limit and the declared size, then CompleteMultipartUpload and the record), or abort.
 */

/**
 * An upload that can never complete as sent: cancelled and its parts dropped; a file that had
 * no content yet goes with it, as on abort (the client starts again with a new create).
 */
async function refuseDirect(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  error: DomainError,
): Promise<never> {
  if (record.content) return refuse(s, record, upload, error);
  // Marked deleting with its upload: the purge ends the upload in S3 too.
  await purgeFile(s, record.company_id, record.id);
  throw error;
}

export interface CompleteRequest extends DirectRef {
  /** The parts as the client sent them, each with the ETag S3 answered. */
  parts: { part: number; etag: string }[];
}

/**
 * Completion, once: the parts the client lists must be the parts S3 holds, and their sizes
 * must fit the limit and the declared size (more than either aborts the upload). A completion
 * asked again after it succeeded answers the file as it was completed.
 */
export async function completeDirectUpload(
  s: StorageServices,
  request: CompleteRequest,
): Promise<FileRecord> {
  const { record, revision, upload } = await openDirect(s, request);
  if (!upload) {
    if (record.content?.revision === revision.revision) return record; // asked again
    throw noSuchUpload();
  }
  return finishDirect(s, record, upload, request.parts);
}

/**
 * Claims the upload, checks the parts S3 holds against the client's list (`listed`), the limit
 * and the declared size, and completes it. The sweeper (no `listed`) only finishes what S3
 * already completed; an upload S3 still holds goes back to the client, whose list was never
 * checked against its parts.
 */
export async function finishDirect(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  listed?: { part: number; etag: string }[],
): Promise<FileRecord> {
  const ref = revisionRef(record, upload.revision);
  const claim = s.now();
  // The sweeper runs longer than a request: its claim outlasts its own timeout.
  const claimMs = listed ? REQUEST_CLAIM_MS : s.limits.assemblyLeaseMs;
  const claimed = await s.records.claimAssembly(ref, claim, claim + claimMs);
  if (!claimed.ok) {
    const now = claimed.record;
    if (isGone(claimed) || !now) throw notFound('File not found');
    if (now.content?.revision === upload.revision) return now; // completed meanwhile
    if (claimed.failed === 'uploadIs') throw noSuchUpload(); // aborted or replaced
    throw conflict('This upload is being completed by another request; retry');
  }
  const key = keys.data(record.company_id, record.id, upload.revision);
  try {
    const held = await s.blobs.listParts(key, upload.multipart_id);
    if (!held) return await adoptCompleted(s, record, upload, claim, listed?.length);
    if (!listed) {
      await s.records.releaseAssembly(ref, claim);
      return claimed.record;
    }
    checkListedParts(listed, held);
    const size = await checkHeld(s, record, upload, held);
    const checksum = await completeInS3(s, record, upload, held);
    return await recordContent(s, record, upload, claim, { size, parts: held.length, checksum });
  } catch (error) {
    await s.records.releaseAssembly(ref, claim);
    throw error;
  }
}

/**
 * What S3 holds must fit: more than the limit or the declared size can never complete (the
 * upload is aborted); less than declared is a part still to send; a part under 5 MiB before
 * the last is to be sent again. Returns the size.
 */
async function checkHeld(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  held: HeldPart[],
): Promise<number> {
  if (held.length === 0) throw badRequest('No part of this upload reached S3 yet');
  const size = held.reduce((sum, part) => sum + part.size, 0);
  const declared = upload.total_size;
  if (size > s.limits.maxDirectFileBytes) {
    const error = tooLargeFor(s.limits.maxDirectFileBytes, size);
    return refuseDirect(s, record, upload, tooLarge(`${error.message}; the upload is aborted`));
  }
  if (declared && size > declared) {
    return refuseDirect(
      s,
      record,
      upload,
      conflict(
        `${declared} bytes were declared but S3 holds ${size} in ${partsOf(held.length)}; ` +
          'the upload is aborted: start it again',
      ),
    );
  }
  if (declared && size < declared) {
    throw badRequest(
      `S3 holds ${size} of the ${declared} bytes declared, in ${partsOf(held.length)}: send the ` +
        'missing parts (list the parts to see which are in), then complete',
    );
  }
  const small = held.slice(0, -1).find((part) => part.size < MIN_PART_BYTES);
  if (small) {
    throw badRequest(
      `Part ${small.part} holds ${small.size} bytes: every part but the last must hold at ` +
        'least 5 MiB; send it again',
    );
  }
  if (upload.checksum_algorithm && held.some((part) => !part.checksum)) {
    throw badRequest(`Every part of this upload must carry its ${upload.checksum_algorithm}`);
  }
  return size;
}

/**
 * CompleteMultipartUpload. S3 refuses when the upload went meanwhile (aborted, deleted) or
 * its parts changed since they were listed: the client's 404 or 400, never a fault.
 */
async function completeInS3(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  held: HeldPart[],
): Promise<string | undefined> {
  const key = keys.data(record.company_id, record.id, upload.revision);
  try {
    return await s.blobs.completeMultipart(
      key,
      upload.multipart_id,
      held,
      upload.checksum_algorithm,
    );
  } catch (error) {
    if (!(error instanceof MultipartRefused)) throw error;
    const now = await s.records.get(fileKey(record));
    if (!now || now.deleting) throw notFound('File not found');
    if (error.reason === 'NoSuchUpload' || now.upload?.revision !== upload.revision) {
      throw noSuchUpload();
    }
    throw badRequest('The parts changed while completing: list them, then complete again');
  }
}

/**
 * S3 completed the upload but the record never said so (the run that completed it died): the
 * object is there and becomes the content, if it is the declared size; else it is dropped.
 */
async function adoptCompleted(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  claim: number,
  parts: number | undefined,
): Promise<FileRecord> {
  const key = keys.data(record.company_id, record.id, upload.revision);
  const size = (await s.blobs.sizes(key)).get(key);
  if (size === undefined) {
    return refuseDirect(
      s,
      record,
      upload,
      conflict('This upload no longer exists in S3; start again'),
    );
  }
  if (upload.total_size && size !== upload.total_size) {
    return refuseDirect(
      s,
      record,
      upload,
      conflict('The data S3 completed is not the declared size; start again'),
    );
  }
  // The part count is the client's list's, when there is one (S3's is not kept).
  return recordContent(s, record, upload, claim, { size, parts: parts ?? 1, checksum: undefined });
}

/** The completed data becomes the content, under the claim; the replaced revision goes. */
async function recordContent(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  claim: number,
  data: { size: number; parts: number; checksum: string | undefined },
): Promise<FileRecord> {
  const { size, checksum } = data;
  const algorithm = upload.checksum_algorithm;
  const content: Content = {
    revision: upload.revision,
    name: upload.name,
    mime: upload.mime,
    size,
    chunks: data.parts,
    ...initialThumbnails(s, { mime: upload.mime, name: upload.name, size }),
    completed_at: s.now(),
    direct: true,
    ...(checksum && algorithm && { checksum: { algorithm, value: checksum } }),
  };
  const completed = await s.records.completeUpload(
    revisionRef(record, upload.revision),
    claim,
    content,
  );
  return settleCompletion(
    s,
    record,
    upload.revision,
    completed,
    conflict('This upload is being completed by another request; retry'),
  );
}

const partsOf = (count: number) => `${count} part${count === 1 ? '' : 's'}`;

/** S3's ETags come quoted; clients pass them on quoted or not. */
const bareEtag = (etag: string) => etag.replace(/^"|"$/g, '');

/** The client's list must name exactly the parts S3 holds, each by its current ETag. */
function checkListedParts(listed: { part: number; etag: string }[], held: HeldPart[]): void {
  const byNumber = new Map(held.map((part) => [part.part, bareEtag(part.etag)]));
  for (const { part, etag } of listed) {
    const stored = byNumber.get(part);
    if (stored === undefined) {
      throw badRequest(`Part ${part} is not in S3: upload it (list the parts to see which are)`);
    }
    if (stored !== bareEtag(etag)) {
      throw badRequest(
        `Part ${part}'s ETag is not the one S3 holds for it (S3 answers each part's ETag to ` +
          'its PUT; list the parts to see them)',
      );
    }
  }
  if (listed.length !== held.length) {
    const missing = held.filter((part) => !listed.some((given) => given.part === part.part));
    throw badRequest(
      `S3 holds parts the list leaves out (${missing.map((part) => part.part).join(', ')}): ` +
        'list every part uploaded',
    );
  }
}

/**
 * Abort: the upload is cancelled first (so a completion racing it cannot win afterwards),
 * then S3 drops its parts; a file that had no content yet goes with it, an overwrite leaves
 * the content as it was.
 */
export async function abortDirectUpload(s: StorageServices, ref: DirectRef): Promise<void> {
  const { record, revision, upload } = await openDirect(s, ref);
  const completedAlready = () => conflict('This upload is complete: delete the file instead');
  if (!upload) {
    if (record.content?.revision === revision.revision) throw completedAlready();
    throw noSuchUpload();
  }
  const cancelled = await s.records.cancelUpload(revisionRef(record, upload.revision));
  if (!cancelled.ok) {
    if (cancelled.record?.content?.revision === upload.revision) throw completedAlready();
    throw noSuchUpload();
  }
  await discardUpload(s, record, upload);
  if (!cancelled.record.content) await purgeFile(s, record.company_id, record.id);
}
