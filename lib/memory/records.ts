import type {
  Content,
  FileRecord,
  PendingUpload,
  ReceivedChunk,
  Thumbnail,
  UploadedPart,
} from '../domain/file';
import {
  firstFailed,
  guardsOf,
  type Bindings,
  type Transition,
  type Written,
} from '../domain/lifecycle';
import type { FileRecords, Memberships, Recorded, StartAs } from '../domain/ports';
import { principalKey, type Principal, type Role } from '../domain/principal';
import type { FileKey, RevisionRef } from '../domain/refs';

/**
 * The record ports in memory, with DynamoDB's semantics: each write is atomic, allowed while
 * the guards of its transition hold (lifecycle.ts, the same `holds` the DynamoDB adapter's
 * conditions must agree with), and a refused one reports the record as it was. Records are
 * copied in and out, so no caller holds the stored one. For tests and local experiments.
 */
export class MemoryRecords implements FileRecords {
  readonly #records = new Map<string, FileRecord>();
  readonly #chunks = new Map<string, Map<number, ReceivedChunk>>();
  /** Part claims (undefined) and parts uploaded, by upload. */
  readonly #parts = new Map<string, Map<number, UploadedPart | undefined>>();

  get(file: FileKey) {
    return Promise.resolve(copy(this.#records.get(idOf(file))));
  }

  async *list(companyId?: string) {
    const records = [...this.#records.values()].filter(
      (record) => companyId === undefined || record.company_id === companyId,
    );
    for (const record of records) yield structuredClone(record);
    await Promise.resolve();
  }

  create(record: FileRecord, firstChunk?: { chunkNumber: number; chunk: ReceivedChunk }) {
    const file = { companyId: record.company_id, fileId: record.id };
    const ref = { ...file, revision: record.upload?.revision ?? '' };
    if (firstChunk && this.#chunksOf(ref).has(firstChunk.chunkNumber)) {
      // DynamoDB cancels the whole transaction, for a reason that is no guard of the record.
      return Promise.reject(new Error('the first chunk of a new upload is already recorded'));
    }
    const written = this.#apply(file, 'create', {}, () => structuredClone(record));
    if (written.ok && firstChunk) {
      this.#chunksOf(ref).set(firstChunk.chunkNumber, { ...firstChunk.chunk });
    }
    return Promise.resolve(written);
  }

  replaceContent(file: FileKey, content: Content, expected: string | undefined, now: number) {
    return this.#transition(file, 'replaceContent', { revision: expected }, (record) => {
      record.content = structuredClone(content);
      record.updated_at = now;
    });
  }

  startUpload(file: FileKey, upload: PendingUpload, how: StartAs) {
    const restart = how.as === 'restart' || how.as === 'restartOverwrite';
    const bindings: Bindings =
      how.as === 'overwrite'
        ? { at: how.retriedSince, chunks: upload.total_chunks, size: upload.total_size }
        : restart
          ? { revision: how.replacing }
          : {};
    return this.#transition(file, how.as, bindings, (record) => {
      // `start` and `overwrite` join the upload in progress, if there is one.
      if (restart || !record.upload) record.upload = structuredClone(upload);
      record.updated_at = upload.started_at;
    });
  }

  recordChunk(
    ref: RevisionRef,
    chunkNumber: number,
    chunk: ReceivedChunk,
    now: number,
  ): Promise<Recorded> {
    // Both conditions of DynamoDB's transaction, the file's first; both writes or neither.
    const guards = guardsOf('recordChunk', { revision: ref.revision });
    const current = this.#records.get(idOf(ref));
    const failed = firstFailed(guards, current);
    if (failed) return Promise.resolve({ ok: false, failed, record: copy(current) });
    const chunks = this.#chunksOf(ref);
    if (chunks.has(chunkNumber)) return Promise.resolve({ ok: false, failed: 'alreadyRecorded' });
    chunks.set(chunkNumber, { ...chunk });
    this.#apply(ref, 'recordChunk', { revision: ref.revision }, (record) => {
      record.upload!.chunk_count += 1;
      record.updated_at = now;
    });
    return Promise.resolve({ ok: true });
  }

  chunks(ref: RevisionRef, range?: { from: number; to: number }) {
    const inRange = [...this.#chunksOf(ref)].filter(
      ([n]) => !range || (n >= range.from && n <= range.to),
    );
    return Promise.resolve(new Map(inRange.map(([n, chunk]) => [n, { ...chunk }])));
  }

  claimPart(ref: RevisionRef, part: number) {
    const parts = this.#partsOf(ref);
    if (parts.has(part)) return Promise.resolve(false);
    parts.set(part, undefined);
    return Promise.resolve(true);
  }

  recordPart(ref: RevisionRef, part: number, uploaded: UploadedPart) {
    this.#partsOf(ref).set(part, { ...uploaded });
    return Promise.resolve();
  }

  parts(ref: RevisionRef) {
    const uploaded = [...this.#partsOf(ref)].flatMap(([n, part]) =>
      part ? [[n, { ...part }] as const] : [],
    );
    return Promise.resolve(new Map(uploaded));
  }

  claimAssembly(ref: RevisionRef, claim: number, until: number) {
    return this.#transition(ref, 'claim', { revision: ref.revision, at: claim }, (record) => {
      Object.assign(record.upload!, { state: 'assembling', claim, claim_until: until });
    });
  }

  renewClaim(ref: RevisionRef, claim: number, until: number) {
    return this.#transition(ref, 'renewClaim', { revision: ref.revision, claim }, (record) => {
      record.upload!.claim_until = until;
    });
  }

  releaseAssembly(ref: RevisionRef, claim: number) {
    return this.#transition(ref, 'release', { revision: ref.revision, claim }, (record) => {
      const upload = record.upload!;
      upload.state = 'receiving';
      delete upload.claim;
      delete upload.claim_until;
    });
  }

  completeUpload(ref: RevisionRef, claim: number, content: Content) {
    return this.#transition(ref, 'complete', { revision: ref.revision, claim }, (record) => {
      record.content = structuredClone(content);
      record.updated_at = content.completed_at ?? Date.now();
      delete record.upload;
    });
  }

  markRetried(ref: RevisionRef, since: number) {
    return this.#transition(ref, 'markRetried', { revision: ref.revision, at: since }, (record) => {
      record.content!.retried = true;
    });
  }

  cancelUpload(ref: RevisionRef) {
    return this.#transition(ref, 'cancel', { revision: ref.revision }, (record) => {
      delete record.upload;
    });
  }

  beginThumbnails(ref: RevisionRef, now: number, until: number) {
    return this.#transition(
      ref,
      'beginThumbnails',
      { revision: ref.revision, at: now },
      (record) => {
        const content = record.content!;
        content.thumbnail_lease = until;
        content.thumbnail_attempts = (content.thumbnail_attempts ?? 0) + 1;
      },
    );
  }

  abandonThumbnails(ref: RevisionRef) {
    return this.#transition(ref, 'abandonThumbnails', { revision: ref.revision }, (record) => {
      delete record.content!.thumbnail_lease;
    });
  }

  finishThumbnails(
    ref: RevisionRef,
    outcome: { status: 'done' | 'error'; thumbnails: Thumbnail[] },
    now: number,
  ) {
    return this.#transition(ref, 'finishThumbnails', { revision: ref.revision }, (record) => {
      const content = record.content!;
      content.thumbnails_status = outcome.status;
      content.thumbnails = structuredClone(outcome.thumbnails);
      delete content.thumbnail_lease;
      record.updated_at = now;
    });
  }

  markDeleting(file: FileKey) {
    return this.#transition(file, 'markDeleting', {}, (record) => {
      record.deleting = true;
    });
  }

  remove(file: FileKey) {
    this.#records.delete(idOf(file));
    return Promise.resolve();
  }

  #transition(
    file: FileKey,
    name: Transition,
    bindings: Bindings,
    change: (record: FileRecord) => FileRecord | void,
  ): Promise<Written> {
    return Promise.resolve(this.#apply(file, name, bindings, change));
  }

  /** Applies `change` to a copy of the record if the guards hold, then stores the copy. */
  #apply(
    file: FileKey,
    name: Transition,
    bindings: Bindings,
    change: (record: FileRecord) => FileRecord | void,
  ): Written {
    const current = this.#records.get(idOf(file));
    const failed = firstFailed(guardsOf(name, bindings), current);
    if (failed) return { ok: false, failed, record: copy(current) };
    const next = structuredClone(current) as FileRecord;
    const record = change(next) ?? next;
    this.#records.set(idOf(file), record);
    return { ok: true, record: structuredClone(record) };
  }

  #chunksOf(ref: RevisionRef) {
    const id = `${idOf(ref)}/${ref.revision}`;
    let chunks = this.#chunks.get(id);
    if (!chunks) this.#chunks.set(id, (chunks = new Map()));
    return chunks;
  }

  #partsOf(ref: RevisionRef) {
    const id = `${idOf(ref)}/${ref.revision}`;
    let parts = this.#parts.get(id);
    if (!parts) this.#parts.set(id, (parts = new Map()));
    return parts;
  }
}

const idOf = (file: FileKey) => `${file.companyId}/${file.fileId}`;
const copy = <T>(value: T | undefined) =>
  value === undefined ? undefined : structuredClone(value);

/** Company memberships in memory. */
export class MemoryMembers implements Memberships {
  readonly #roles = new Map<string, Role>();
  readonly #records: FileRecords;

  constructor(records: FileRecords) {
    this.#records = records;
  }

  add(companyId: string, principal: Principal, role: Role): void {
    this.#roles.set(`${companyId}/${principalKey(principal)}`, role);
  }

  roleOf(companyId: string, principal: Principal) {
    return Promise.resolve(this.#roles.get(`${companyId}/${principalKey(principal)}`));
  }

  async roleAndFile(companyId: string, fileId: string, principal: Principal) {
    return {
      role: await this.roleOf(companyId, principal),
      record: await this.#records.get({ companyId, fileId }),
    };
  }
}
