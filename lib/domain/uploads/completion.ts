import { MAX_INLINE_CHUNKS, type StoredChunk } from '../assembly-plan';
import { conflict, notFound, type DomainError } from '../errors';
import type { Content, FileRecord, PendingUpload, UploadedPart } from '../file';
import { keys } from '../ids';
import { isGone, type Written } from '../lifecycle';
import type { AssemblyJob, Services, StorageServices } from '../ports';
import { revisionRef } from '../refs';
import { initialThumbnails } from '../thumbnails';
import { bestEffort, dropRevision, refuse } from './cleanup';
import { fileTooLarge } from './limits';
import { assemblyPlan, awaitPartsAhead, bytesOf, storedChunks, writeData } from './parts';

/**
 * Completion: the request that brings the last chunk claims the assembly (exactly one caller
 * wins, under a fencing token), then makes the content itself when the work left fits the
 * request, or hands it to the asynchronous assembler (`assembling`).
 */

/** A completing request's claim: the upload functions time out after 29 s. */
export const REQUEST_CLAIM_MS = 60_000;

/** Every chunk is in: claim, check what arrived, then assemble here or hand off. */
export async function finishUpload(
  s: Services,
  record: FileRecord,
  upload: PendingUpload,
): Promise<FileRecord> {
  const ref = revisionRef(record, upload.revision);
  const claim = s.now();
  const claimed = await s.records.claimAssembly(ref, claim, claim + REQUEST_CLAIM_MS);
  if (!claimed.ok) {
    // Another request holds it, or it completed: the record says where it stands.
    if (isGone(claimed) || !claimed.record) throw notFound('File not found');
    return claimed.record;
  }
  try {
    const chunks = await storedChunks(s, record, upload);
    if (!chunks) {
      return await refuse(
        s,
        record,
        upload,
        conflict('Chunks of this upload expired or were lost before it completed; start it again'),
      );
    }
    const size = bytesOf(chunks);
    if (upload.total_size && size !== upload.total_size) {
      return await refuse(
        s,
        record,
        upload,
        conflict(
          `total_size=${upload.total_size} disagrees with the ${size} bytes received in ` +
            `${upload.total_chunks} chunks; start the upload again`,
        ),
      );
    }
    if (size > s.limits.maxFileBytes) {
      return await refuse(s, record, upload, fileTooLarge(s, size));
    }
    const uploadedAhead = await s.records.parts(ref);
    const plan = assemblyPlan(upload, chunks, uploadedAhead);
    if (
      plan.toStream <= s.limits.syncAssemblyMaxBytes &&
      plan.chunksToStream <= MAX_INLINE_CHUNKS
    ) {
      const ahead = await awaitPartsAhead(s, record, upload, chunks, uploadedAhead);
      return await assemble(s, record, upload, { claim, chunks, ahead });
    }
    const until = s.now() + s.limits.assemblyLeaseMs;
    if (!(await s.records.renewClaim(ref, claim, until)).ok) {
      throw conflict('The upload changed while completing; retry');
    }
    await s.assemblies.enqueue({
      company_id: ref.companyId,
      file_id: ref.fileId,
      revision: ref.revision,
      claim,
    });
    return { ...record, upload: { ...upload, state: 'assembling', claim, claim_until: until } };
  } catch (error) {
    await s.records.releaseAssembly(ref, claim);
    throw error;
  }
}

/**
 * The asynchronous assembler's entry point. It works under the claim handed over with the
 * job; when Lambda retries it after a failure (which gave the claim back) it claims anew.
 */
export async function runAssembly(s: StorageServices, job: AssemblyJob): Promise<void> {
  const ref = { companyId: job.company_id, fileId: job.file_id, revision: job.revision };
  const record = await s.records.get(ref);
  const upload = record?.upload;
  if (!record || record.deleting || upload?.revision !== job.revision) return;
  let claim = job.claim;
  if (upload.state !== 'assembling' || upload.claim !== claim) {
    claim = s.now();
    const until = claim + s.limits.assemblyLeaseMs;
    // Refused: complete, or assembled by a live holder.
    if (!(await s.records.claimAssembly(ref, claim, until)).ok) return;
  }
  try {
    const chunks = await storedChunks(s, record, upload);
    if (!chunks) throw new Error(`chunks of ${job.revision} are missing`);
    await assemble(s, record, upload, { claim, chunks, ahead: await s.records.parts(ref) });
  } catch (error) {
    await s.records.releaseAssembly(ref, claim);
    throw error;
  }
}

/** Completes an upload whose chunks are all in but whose completion died (the sweeper). */
export async function resumeUpload(s: Services, record: FileRecord): Promise<FileRecord> {
  if (!record.upload) return record;
  return finishUpload(s, record, record.upload);
}

/** Writes the data under the claim, then makes it the content; the replaced one is removed. */
async function assemble(
  s: StorageServices,
  record: FileRecord,
  upload: PendingUpload,
  work: { claim: number; chunks: StoredChunk[]; ahead: ReadonlyMap<number, UploadedPart> },
): Promise<FileRecord> {
  const { company_id: companyId, id: fileId } = record;
  const { revision } = upload;
  const { chunks } = work;
  await writeData(s, record, upload, chunks, work.ahead);
  const size = bytesOf(chunks);
  const content: Content = {
    revision,
    name: upload.name,
    mime: upload.mime,
    size,
    chunks: upload.total_chunks,
    chunk_size: uniformChunkSize(chunks),
    ...initialThumbnails(s, { mime: upload.mime, name: upload.name, size }),
    completed_at: s.now(),
  };
  const completed = await s.records.completeUpload(
    revisionRef(record, revision),
    work.claim,
    content,
  );
  const current = await settleCompletion(
    s,
    record,
    revision,
    completed,
    conflict('The upload changed while completing; retry'),
  );
  await bestEffort(s, 'could not remove assembled chunks', { fileId, revision }, () =>
    s.blobs.deletePrefix(keys.chunksPrefix(companyId, fileId, revision)),
  );
  return current;
}

/**
 * What the `complete` write of `revision` leaves, for a chunked or a direct upload: the record
 * it made, the replaced revision removed; a twin's, if one completed first; a 404 once the
 * bytes written are removed, if the file was deleted or the upload replaced meanwhile; else
 * `lostClaim` (another run holds the claim now).
 */
export async function settleCompletion(
  s: StorageServices,
  record: FileRecord,
  revision: string,
  completed: Written,
  lostClaim: DomainError,
): Promise<FileRecord> {
  const { company_id: companyId, id: fileId } = record;
  if (!completed.ok) {
    const now = completed.record;
    if (now && !now.deleting && now.content?.revision === revision) return now; // a twin finished
    if (!now || now.deleting || now.upload?.revision !== revision) {
      // Deleted or replaced while completing: these bytes belong to nothing.
      await s.blobs.deletePrefix(keys.revisionPrefix(companyId, fileId, revision));
      await s.blobs.deletePrefix(keys.chunksPrefix(companyId, fileId, revision));
      throw notFound('File not found');
    }
    throw lostClaim;
  }
  const replaced = record.content?.revision;
  if (replaced && replaced !== revision) await dropRevision(s, record, replaced);
  return completed.record;
}

/** The size of every chunk but the last, when they are all alike. */
function uniformChunkSize(chunks: StoredChunk[]): number | undefined {
  const size = chunks[0]?.size;
  const alike = chunks.slice(0, -1).every((chunk) => chunk.size === size);
  return chunks.length > 1 && alike ? size : undefined;
}
