import { createHash, randomUUID } from 'node:crypto';
import { DomainError } from '../../lib/domain/errors';
import type { Content, FileRecord, PendingUpload, PublicFile } from '../../lib/domain/file';
import { createFile, deleteFile, getFile, testChunk, uploadToFile } from '../../lib/domain/files';
import { keys } from '../../lib/domain/ids';
import { firstFailed, guardsOf, type Bindings, type Transition } from '../../lib/domain/lifecycle';
import type { Principal } from '../../lib/domain/principal';
import { sweep } from '../../lib/domain/sweeper';
import type { UploadParams } from '../../lib/domain/upload-params';
import {
  abortDirectUpload,
  completeDirectUpload,
  createDirectUpload,
  runAssembly,
} from '../../lib/domain/uploads';
import { failingOnce, replacing, type MakeWorld, type World } from './world';

/**
 * The upload lifecycle's rules as scenarios on the domain's operations, run against every
 * implementation of the ports (tests/unit: in memory; tests/integration: the adapters over
 * the emulators), so that the adapters are held to one contract.
 */

const rita: Principal = { kind: 'user', userId: 'rita' };
const app: Principal = { kind: 'application', applicationId: 'scenario-app' };
const links = { kind: 'ids' as const };
const MINUTE = 60_000;

const bytesOf = (text: string) => Buffer.from(text);
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A domain error's kind, or 'ok' with the resource. */
async function attempt(
  operation: Promise<PublicFile>,
): Promise<{ kind: 'ok'; resource: PublicFile } | { kind: string; message: string }> {
  try {
    return { kind: 'ok', resource: await operation };
  } catch (error) {
    if (error instanceof DomainError) return { kind: error.kind, message: error.message };
    throw error;
  }
}

function scenarioFiles(w: World, company: string) {
  const upload = (
    principal: Principal,
    fileId: string,
    params: Partial<UploadParams>,
    bytes: Buffer | undefined,
  ) =>
    uploadToFile(w.services, {
      principal,
      companyId: company,
      fileId,
      params: { thumbnailSync: false, ...params },
      data: bytes && { bytes },
      budgetMs: 10_000,
      links,
    });
  const chunk = (principal: Principal, fileId: string, n: number, total: number, bytes: Buffer) =>
    upload(principal, fileId, { chunkNumber: n, totalChunks: total }, bytes);
  const create = async (principal: Principal = rita) =>
    (
      await createFile(w.services, {
        principal,
        companyId: company,
        params: { thumbnailSync: false },
        data: undefined,
        budgetMs: 10_000,
        links,
      })
    ).id;
  const record = (fileId: string) => w.services.records.get({ companyId: company, fileId });
  const stored = async (fileId: string) => {
    const content = (await record(fileId))?.content;
    if (!content) return undefined;
    return Buffer.from(await w.services.blobs.get(keys.data(company, fileId, content.revision)));
  };
  /** Sends every chunk of `parts` in order, the last one's reply returned. */
  const chunked = async (principal: Principal, fileId: string, parts: Buffer[]) => {
    let last: PublicFile | undefined;
    for (const [i, part] of parts.entries()) {
      last = await chunk(principal, fileId, i + 1, parts.length, part);
    }
    return last!;
  };
  return { upload, chunk, create, record, stored, chunked };
}

export function lifecycleScenarios(make: MakeWorld): void {
  let w: World;
  let company: string;
  let f: ReturnType<typeof scenarioFiles>;

  beforeEach(async () => {
    w = await make();
    company = w.newCompany();
    f = scenarioFiles(w, company);
    await w.addMember(company, rita, 'member');
    await w.addMember(company, app, 'application');
  });

  describe('upload rules', () => {
    test('chunks in any order make the file whole; a chunk sent again counts once', async () => {
      const id = await f.create();
      await f.chunk(rita, id, 3, 3, bytesOf('ccc'));
      await f.chunk(rita, id, 2, 3, bytesOf('bbb'));
      // Another attempt at chunk 2: the one recorded first is the chunk.
      const again = await f.chunk(rita, id, 2, 3, bytesOf('BBB'));
      expect(again.upload_data).toMatchObject({ status: 'uploading', chunks: 3 });
      const last = await f.chunk(rita, id, 1, 3, bytesOf('aaa'));
      expect(last.upload_data).toMatchObject({ status: 'complete', size: 9 });
      expect((await f.stored(id))?.toString()).toBe('aaabbbccc');
      expect(await w.objectKeys(`uploads/${company}/${id}/`)).toEqual([]);
    });

    test('the last two chunks at once: one completion, the file whole', async () => {
      const id = await f.create();
      await f.chunk(rita, id, 1, 3, bytesOf('one-'));
      const replies = await Promise.all([
        f.chunk(rita, id, 2, 3, bytesOf('two-')),
        f.chunk(rita, id, 3, 3, bytesOf('three')),
      ]);
      expect(replies.map((reply) => reply.upload_data?.status)).toContain('complete');
      expect((await f.stored(id))?.toString()).toBe('one-two-three');
      expect((await f.record(id))?.upload).toBeUndefined();
    });

    test('a chunk with other totals than the upload in progress: 409', async () => {
      const id = await f.create();
      await f.chunk(rita, id, 1, 3, bytesOf('a'));
      const other = await attempt(f.chunk(rita, id, 2, 4, bytesOf('b')));
      expect(other).toMatchObject({
        kind: 'Conflict',
        message: expect.stringContaining('total_chunks=4'),
      });
      const whole = await attempt(f.upload(rita, id, {}, bytesOf('whole')));
      expect(whole).toMatchObject({ kind: 'Conflict' });
    });

    test('a user cannot overwrite a complete file; an application can, and the old bytes go', async () => {
      const id = await f.create();
      await f.chunked(rita, id, [bytesOf('old-'), bytesOf('file')]);
      const old = (await f.record(id))!.content!.revision;
      // (Its totals differ: with the same ones, within minutes, it is taken for a late retry.)
      expect(await attempt(f.chunk(rita, id, 1, 3, bytesOf('new-')))).toMatchObject({
        kind: 'Forbidden',
      });
      const done = await f.chunked(app, id, [bytesOf('new-'), bytesOf('data'), bytesOf('!')]);
      expect(done.upload_data).toMatchObject({ status: 'complete', chunks: 3 });
      expect((await f.stored(id))?.toString()).toBe('new-data!');
      expect(await w.objectKeys(`files/${company}/${id}/${old}/`)).toEqual([]);
    });

    test('an upload too old to complete is replaced by a new one', async () => {
      const id = await f.create();
      await f.chunk(rita, id, 1, 2, bytesOf('stale'));
      const stale = (await f.record(id))!.upload!.revision;
      w.clock.advance(w.services.limits.uploadMaxAgeMs + MINUTE);
      await f.chunk(rita, id, 1, 2, bytesOf('fresh-'));
      expect((await f.record(id))!.upload!.revision).not.toBe(stale);
      await f.chunk(rita, id, 2, 2, bytesOf('start'));
      expect((await f.stored(id))?.toString()).toBe('fresh-start');
      expect(await w.objectKeys(`uploads/${company}/${id}/${stale}/`)).toEqual([]);
    });

    test('testChunks: recorded chunks are there, others are not', async () => {
      const id = await f.create();
      await f.chunk(rita, id, 2, 3, bytesOf('b'));
      const has = async (n: number) =>
        (await testChunk(w.services, {
          principal: rita,
          companyId: company,
          fileId: id,
          chunkNumber: n,
          links,
        })) !== undefined;
      expect([await has(1), await has(2), await has(3)]).toEqual([false, true, false]);
    });
  });

  describe('late retries', () => {
    test("a user's chunk sent again after completion is answered, the content unchanged", async () => {
      const id = await f.create();
      await f.chunked(rita, id, [bytesOf('abc'), bytesOf('def')]);
      const before = (await f.record(id))!.content!.revision;
      const late = await f.chunk(rita, id, 1, 2, bytesOf('abc'));
      expect(late.upload_data).toMatchObject({ status: 'complete' });
      expect((await f.record(id))!.content!.revision).toBe(before);
      expect((await f.record(id))!.upload).toBeUndefined();
    });

    test("an application's chunk with the same bytes is a retry; with other bytes, an overwrite", async () => {
      const id = await f.create(app);
      await f.chunked(app, id, [bytesOf('abc'), bytesOf('def')]);
      const first = (await f.record(id))!.content!.revision;
      await f.chunk(app, id, 2, 2, bytesOf('def'));
      expect((await f.record(id))!.content).toMatchObject({ revision: first, retried: true });
      expect((await f.record(id))!.upload).toBeUndefined();

      const other = await f.create(app);
      await f.chunked(app, other, [bytesOf('abc'), bytesOf('def')]);
      await f.chunk(app, other, 1, 2, bytesOf('xyz'));
      expect((await f.record(other))!.upload).toMatchObject({ chunk_count: 1 });
      await f.chunk(app, other, 2, 2, bytesOf('uvw'));
      expect((await f.stored(other))?.toString()).toBe('xyzuvw');
    });

    test('once a late retry is noted, an overwrite with as many chunks waits out the window', async () => {
      const id = await f.create(app);
      await f.chunked(app, id, [bytesOf('abc'), bytesOf('def')]);
      await f.chunk(app, id, 1, 2, bytesOf('abc'));
      const refused = await attempt(f.chunk(app, id, 1, 2, bytesOf('new')));
      expect(refused).toMatchObject({
        kind: 'Conflict',
        message: expect.stringContaining('can start in'),
      });
      w.clock.advance(5 * MINUTE);
      await f.chunked(app, id, [bytesOf('new'), bytesOf('one')]);
      expect((await f.stored(id))?.toString()).toBe('newone');
    });
  });

  describe('delete', () => {
    test('deleted during an upload: a later chunk is 404 and nothing stays behind', async () => {
      const id = await f.create();
      await f.chunk(rita, id, 1, 3, bytesOf('a'));
      await deleteFile(w.services, { principal: rita, companyId: company, fileId: id });
      expect(await attempt(f.chunk(rita, id, 2, 3, bytesOf('b')))).toMatchObject({
        kind: 'NotFound',
      });
      expect(await f.record(id)).toBeUndefined();
      expect(await w.objectKeys(`uploads/${company}/${id}/`)).toEqual([]);
      expect(await w.objectKeys(`files/${company}/${id}/`)).toEqual([]);
    });

    test('a second delete is 404; a file being deleted is gone for readers', async () => {
      const id = await f.create();
      await f.upload(rita, id, {}, bytesOf('whole'));
      const ref = { principal: rita, companyId: company, fileId: id };
      await deleteFile(w.services, ref);
      await expect(deleteFile(w.services, ref)).rejects.toMatchObject({ kind: 'NotFound' });

      const other = await f.create();
      await w.services.records.markDeleting({ companyId: company, fileId: other });
      await expect(getFile(w.services, { ...ref, fileId: other, links })).rejects.toMatchObject({
        kind: 'NotFound',
      });
    });
  });

  describe('sweeper', () => {
    const policy = { abandonedAfterMs: 60 * MINUTE, stuckAfterMs: 15 * MINUTE };

    test('an abandoned upload is removed with its bytes; a fresh one stays', async () => {
      const abandoned = await f.create();
      await f.chunk(rita, abandoned, 1, 2, bytesOf('old'));
      w.clock.advance(2 * policy.abandonedAfterMs);
      const fresh = await f.create();
      await f.chunk(rita, fresh, 1, 2, bytesOf('new'));
      const report = await sweep(w.services, policy, company);
      expect(report).toMatchObject({ removed_files: 1, errors: 0 });
      expect(await f.record(abandoned)).toBeUndefined();
      expect(await w.objectKeys(`uploads/${company}/${abandoned}/`)).toEqual([]);
      expect((await f.record(fresh))?.upload).toMatchObject({ chunk_count: 1 });
    });

    test('a completion that died is resumed', async () => {
      const id = await f.create();
      await f.chunk(rita, id, 1, 2, bytesOf('left-'));
      const healthy = w.services.blobs;
      w.services.blobs = failingOnce(healthy, 'completeMultipart');
      await expect(f.chunk(rita, id, 2, 2, bytesOf('right'))).rejects.toThrow('injected fault');
      w.services.blobs = healthy;
      expect((await f.record(id))?.upload).toMatchObject({ state: 'receiving', chunk_count: 2 });

      w.clock.advance(policy.stuckAfterMs + MINUTE);
      expect(await sweep(w.services, policy, company)).toMatchObject({ resumed_uploads: 1 });
      expect((await f.stored(id))?.toString()).toBe('left-right');
    });
  });

  describe('asynchronous assembly', () => {
    test('beyond what a request may stream, the reply says assembling; a job delivered twice completes it once', async () => {
      // 201 chunks: more than a request reads back (MAX_INLINE_CHUNKS), none uploaded ahead.
      const id = await f.create();
      const parts = Array.from({ length: 201 }, (_, i) => bytesOf(String(i % 10)));
      await f.chunk(rita, id, 1, parts.length, parts[0]!);
      // The record does not grow with the chunks it counts (each has an item of its own).
      const size = async () => JSON.stringify((await f.record(id))!.upload).length;
      const withOne = await size();
      for (let n = 2; n < parts.length; n += 8) {
        await Promise.all(
          parts
            .slice(n - 1, Math.min(n + 7, parts.length - 1))
            .map((part, i) => f.chunk(rita, id, n + i, parts.length, part)),
        );
      }
      expect((await size()) - withOne).toBeLessThanOrEqual(2); // chunk_count's digits
      const last = await f.chunk(rita, id, parts.length, parts.length, parts.at(-1)!);
      expect(last.upload_data).toMatchObject({ status: 'assembling' });
      const [job] = w.jobs.take();
      expect(job).toMatchObject({ company_id: company, file_id: id });
      await runAssembly(w.services, job!);
      await runAssembly(w.services, job!);
      expect(sha((await f.stored(id))!)).toBe(sha(Buffer.concat(parts)));
      expect((await f.record(id))?.upload).toBeUndefined();
    });
  });

  describe('direct uploads (the client sends the parts to S3)', () => {
    const MiB = 1024 * 1024;
    const startDirect = (principal: Principal, metadata: { size?: number; fileId?: string } = {}) =>
      createDirectUpload(w.services, {
        principal,
        companyId: company,
        filename: 'direct.bin',
        mime: 'application/octet-stream',
        metadata,
      });
    const ref = (started: { key: string; uploadId: string }, principal: Principal = rita) => ({
      principal,
      companyId: company,
      key: started.key,
      uploadId: started.uploadId,
    });
    const sendAll = async (started: { key: string; uploadId: string }, parts: Buffer[]) => {
      const listed = [];
      for (const [i, part] of parts.entries()) {
        listed.push({ part: i + 1, etag: await w.sendPart(started, i + 1, part) });
      }
      return listed;
    };
    const kindOf = async (operation: Promise<unknown>) => {
      try {
        await operation;
        return 'ok';
      } catch (error) {
        if (error instanceof DomainError) return error.kind;
        throw error;
      }
    };

    test('parts straight to S3 become the content; completing again answers the same', async () => {
      const started = await startDirect(rita, { size: 5 * MiB + 3 });
      const parts = [Buffer.alloc(5 * MiB, 1), bytesOf('end')];
      const listed = await sendAll(started, parts);
      const done = await completeDirectUpload(w.services, { ...ref(started), parts: listed });
      expect(done.content).toMatchObject({ size: 5 * MiB + 3, chunks: 2 });
      expect(done.upload).toBeUndefined();
      expect(sha((await f.stored(done.id))!)).toBe(sha(Buffer.concat(parts)));
      const again = await completeDirectUpload(w.services, { ...ref(started), parts: listed });
      expect(again.content?.revision).toBe(done.content?.revision);
    });

    test('a list that disagrees is refused and the upload stays; a size that does not is aborted', async () => {
      const started = await startDirect(rita);
      const listed = await sendAll(started, [bytesOf('only part')]);
      const wrong = [{ part: 1, etag: '"0123456789abcdef0123456789abcdef"' }];
      expect(
        await kindOf(completeDirectUpload(w.services, { ...ref(started), parts: wrong })),
      ).toBe('BadRequest');
      expect((await f.record(started.record.id))?.upload?.state).toBe('receiving');
      expect(
        await kindOf(completeDirectUpload(w.services, { ...ref(started), parts: listed })),
      ).toBe('ok');

      const declared = await startDirect(rita, { size: 4 });
      const more = await sendAll(declared, [bytesOf('five!')]);
      expect(
        await kindOf(completeDirectUpload(w.services, { ...ref(declared), parts: more })),
      ).toBe('Conflict');
      // A new file goes with its refused upload, as on abort.
      expect(await f.record(declared.record.id)).toBeUndefined();
      expect(await w.services.blobs.listParts(declared.key, declared.uploadId)).toBeUndefined();
    });

    test('an overwrite keeps the content until it completes; abort keeps it for good', async () => {
      const id = await f.create();
      await f.upload(rita, id, {}, bytesOf('first'));
      const overwrite = await startDirect(app, { fileId: id });
      expect(await kindOf(startDirect(app, { fileId: id }))).toBe('Conflict');
      expect(await kindOf(f.chunk(app, id, 1, 2, bytesOf('x')))).toBe('Conflict');
      await abortDirectUpload(w.services, ref(overwrite, app));
      expect((await f.stored(id))?.toString()).toBe('first');
      expect((await f.record(id))?.upload).toBeUndefined();

      const second = await startDirect(app, { fileId: id });
      const listed = await sendAll(second, [bytesOf('second')]);
      expect((await f.stored(id))?.toString()).toBe('first');
      await completeDirectUpload(w.services, { ...ref(second, app), parts: listed });
      expect((await f.stored(id))?.toString()).toBe('second');
    });

    test('a delete during the upload leaves nothing, and the upload cannot complete', async () => {
      const started = await startDirect(rita);
      const listed = await sendAll(started, [bytesOf('doomed')]);
      await deleteFile(w.services, {
        principal: rita,
        companyId: company,
        fileId: started.record.id,
      });
      expect(await w.services.blobs.listParts(started.key, started.uploadId)).toBeUndefined();
      expect(
        await kindOf(completeDirectUpload(w.services, { ...ref(started), parts: listed })),
      ).toBe('NotFound');
      expect(await w.objectKeys(`files/${company}/${started.record.id}/`)).toEqual([]);
    });

    test('an abort that read the upload before it completed answers 409 and leaves the file', async () => {
      const started = await startDirect(rita);
      const listed = await sendAll(started, [bytesOf('done')]);
      const id = started.record.id;
      const seenBefore = await w.services.members.roleAndFile(company, id, rita);
      await completeDirectUpload(w.services, { ...ref(started), parts: listed });
      // The abort's read happened before the completion; its writes come after.
      const late = {
        ...w.services,
        members: { ...w.services.members, roleAndFile: () => Promise.resolve(seenBefore) },
      };
      expect(await kindOf(abortDirectUpload(late, ref(started)))).toBe('Conflict');
      expect((await f.stored(id))?.toString()).toBe('done');
    });

    test('a completion whose claim another run took over keeps the data that run completes', async () => {
      const started = await startDirect(rita);
      const listed = await sendAll(started, [bytesOf('shared')]);
      const id = started.record.id;
      const revision = started.record.upload!.revision;
      // S3 completes, then this run stalls past its claim, and another run claims the upload.
      const stalling = {
        ...w.services,
        blobs: replacing(w.services.blobs, 'completeMultipart', async (...args) => {
          const checksum = await w.services.blobs.completeMultipart(...args);
          w.clock.advance(2 * MINUTE);
          const now = w.clock.now();
          const upload = { companyId: company, fileId: id, revision };
          await w.services.records.claimAssembly(upload, now, now + MINUTE);
          return checksum;
        }),
      };
      expect(await kindOf(completeDirectUpload(stalling, { ...ref(started), parts: listed }))).toBe(
        'Conflict',
      );
      expect(await w.objectKeys(started.key)).toEqual([started.key]);
      // Once that run's claim lapses too, a completion asked again finishes from S3's object.
      w.clock.advance(2 * MINUTE);
      await completeDirectUpload(w.services, { ...ref(started), parts: listed });
      expect((await f.stored(id))?.toString()).toBe('shared');
    });

    test('the sweeper: a completion that died goes back to the client, or is finished if S3 completed it; abandoned ones end', async () => {
      // Completions that claimed the upload and died: one before S3 completed it, one after.
      const died = async (text: string, completedInS3: boolean) => {
        const started = await startDirect(rita);
        const listed = await sendAll(started, [bytesOf(text)]);
        const revision = started.record.upload!.revision;
        const lapsed = w.clock.now() - 1;
        const ref = { companyId: company, fileId: started.record.id, revision };
        await w.services.records.claimAssembly(ref, lapsed - MINUTE, lapsed);
        if (completedInS3)
          await w.services.blobs.completeMultipart(started.key, started.uploadId, listed);
        return { started, listed };
      };
      const before = await died('before', false);
      const after = await died('after', true);
      const abandoned = await startDirect(rita);
      await sendAll(abandoned, [bytesOf('left')]);
      w.clock.advance(2 * MINUTE);
      const policy = { abandonedAfterMs: 10 * MINUTE, stuckAfterMs: 60 * MINUTE };
      expect(await sweep(w.services, policy, company)).toMatchObject({
        resumed_uploads: 2,
        errors: 0,
      });
      // S3 still held the first: its client's list was never checked, so the client completes.
      expect((await f.record(before.started.record.id))?.upload?.state).toBe('receiving');
      await completeDirectUpload(w.services, { ...ref(before.started), parts: before.listed });
      expect((await f.stored(before.started.record.id))?.toString()).toBe('before');
      // S3 had completed the second: its data is the content.
      expect((await f.stored(after.started.record.id))?.toString()).toBe('after');
      expect((await f.record(after.started.record.id))?.upload).toBeUndefined();
      // Past the abandoned age, the upload no one completes is removed with its parts.
      w.clock.advance(10 * MINUTE);
      expect(await sweep(w.services, policy, company)).toMatchObject({
        removed_files: 1,
        errors: 0,
      });
      expect(await f.record(abandoned.record.id)).toBeUndefined();
      expect(await w.services.blobs.listParts(abandoned.key, abandoned.uploadId)).toBeUndefined();
    });
  });

  describe('guards: the write refused reports the first guard that failed', () => {
    const { states, calls, ref, up, at } = guardedWrites(() => company);
    test.each(calls.map(([name, bindings, call]) => [name, bindings, call] as const))(
      '%s with %j, from every state',
      async (name, bindings, call) => {
        const seen: Record<string, string> = {};
        const expected: Record<string, string> = {};
        for (const [state, make] of Object.entries(states)) {
          const record = make();
          if (state !== 'absent') await w.putRecord(record);
          const written = await call(w, record);
          seen[state] = written.ok ? 'ok' : String(written.failed);
          const before = state === 'absent' ? undefined : record;
          expected[state] = firstFailed(guardsOf(name, bindings), before) ?? 'ok';
        }
        expect(seen).toEqual(expected);
      },
    );

    test('recordChunk: once per chunk, and only into a receiving upload', async () => {
      const seen: Record<string, string> = {};
      for (const [state, make] of Object.entries(states)) {
        const record = make();
        if (state !== 'absent') await w.putRecord(record);
        const chunk = { size: 1, nonce: '0000000a' };
        const first = await w.services.records.recordChunk(ref(record, up), 1, chunk, at);
        const second = await w.services.records.recordChunk(ref(record, up), 1, chunk, at);
        seen[state] = [first, second].map((r) => (r.ok ? 'ok' : r.failed)).join(', ');
      }
      expect(seen).toEqual({
        absent: 'exists, exists',
        empty: 'uploadIs, uploadIs',
        receiving: 'ok, alreadyRecorded',
        'all chunks in': 'ok, alreadyRecorded',
        'assembling, live claim': 'receiving, receiving',
        'assembling, claim lapsed': 'receiving, receiving',
        complete: 'uploadIs, uploadIs',
        'complete, retried': 'uploadIs, uploadIs',
        'complete, retried just now': 'uploadIs, uploadIs',
        'thumbnails leased': 'uploadIs, uploadIs',
        overwriting: 'ok, alreadyRecorded',
        deleting: 'notDeleting, notDeleting',
        'deleting, claimed upload': 'notDeleting, notDeleting',
      });
    });
  });
}

/**
 * Records in every state (`absent` is never written: the call names a file that does not
 * exist) and every guarded write of lifecycle.ts, with the bindings it is called with.
 */
export function guardedWrites(companyOf: () => string) {
  const file = (over: Partial<FileRecord>): FileRecord => ({
    company_id: companyOf(),
    id: randomUUID(),
    user_id: 'rita',
    application_id: null,
    created_at: 1,
    updated_at: 1,
    ...over,
  });
  const content = (over: Partial<Content> = {}): Content => ({
    revision: 'rcontent00000000',
    name: 'a.txt',
    mime: 'text/plain',
    size: 6,
    chunks: 2,
    thumbnails_status: 'waiting',
    thumbnails: [],
    completed_at: 1_000_000,
    ...over,
  });
  const upload = (over: Partial<PendingUpload> = {}): PendingUpload => ({
    revision: 'rupload000000000',
    name: 'b.txt',
    mime: 'text/plain',
    total_chunks: 2,
    total_size: 0,
    started_at: 1,
    state: 'receiving',
    chunk_count: 1,
    multipart_id: 'm',
    part_chunks: 10,
    ...over,
  });
  // `absent` is never written: the call names a file that does not exist.
  const states: Record<string, () => FileRecord> = {
    absent: () => file({}),
    empty: () => file({}),
    receiving: () => file({ upload: upload() }),
    'all chunks in': () => file({ upload: upload({ chunk_count: 2 }) }),
    'assembling, live claim': () =>
      file({
        upload: upload({ chunk_count: 2, state: 'assembling', claim: 5, claim_until: 2_000_000 }),
      }),
    'assembling, claim lapsed': () =>
      file({
        upload: upload({ chunk_count: 2, state: 'assembling', claim: 5, claim_until: 10 }),
      }),
    complete: () => file({ content: content() }),
    'complete, retried': () => file({ content: content({ retried: true }) }),
    // A late retry noted within the window of the writes below (`at`).
    'complete, retried just now': () =>
      file({ content: content({ retried: true, completed_at: 1_600_000 }) }),
    'thumbnails leased': () => file({ content: content({ thumbnail_lease: 2_000_000 }) }),
    overwriting: () => file({ content: content({ thumbnails_status: 'done' }), upload: upload() }),
    deleting: () => file({ content: content(), deleting: true }),
    'deleting, claimed upload': () =>
      file({
        upload: upload({ chunk_count: 2, state: 'assembling', claim: 5, claim_until: 2_000_000 }),
        deleting: true,
      }),
  };
  const at = 1_500_000;
  const up = 'rupload000000000';
  const newContent = content({ revision: 'rnew000000000000' });
  const newUpload = upload({ revision: 'rnext00000000000', chunk_count: 0 });
  type Call = [
    Transition,
    Bindings,
    (w: World, r: FileRecord) => Promise<{ ok: boolean; failed?: string }>,
  ];
  const ref = (r: FileRecord, revision: string) => ({
    companyId: r.company_id,
    fileId: r.id,
    revision,
  });
  const calls: Call[] = [
    ['start', {}, (w, r) => w.services.records.startUpload(ref(r, ''), newUpload, { as: 'start' })],
    [
      'overwrite',
      { at, chunks: 2, size: 0 },
      (w, r) =>
        w.services.records.startUpload(
          ref(r, ''),
          { ...newUpload, total_chunks: 2 },
          { as: 'overwrite', retriedSince: at },
        ),
    ],
    [
      'overwrite',
      { at, chunks: 2, size: 6 },
      (w, r) =>
        w.services.records.startUpload(
          ref(r, ''),
          { ...newUpload, total_chunks: 2, total_size: 6 },
          { as: 'overwrite', retriedSince: at },
        ),
    ],
    [
      'overwrite',
      { at, chunks: 2, size: 7 },
      (w, r) =>
        w.services.records.startUpload(
          ref(r, ''),
          { ...newUpload, total_chunks: 2, total_size: 7 },
          { as: 'overwrite', retriedSince: at },
        ),
    ],
    [
      'restart',
      { revision: up },
      (w, r) =>
        w.services.records.startUpload(ref(r, ''), newUpload, { as: 'restart', replacing: up }),
    ],
    [
      'restartOverwrite',
      { revision: up },
      (w, r) =>
        w.services.records.startUpload(ref(r, ''), newUpload, {
          as: 'restartOverwrite',
          replacing: up,
        }),
    ],
    [
      'abandonThumbnails',
      { revision: 'rcontent00000000' },
      (w, r) => w.services.records.abandonThumbnails(ref(r, 'rcontent00000000')),
    ],
    [
      'claim',
      { revision: up, at },
      (w, r) => w.services.records.claimAssembly(ref(r, up), at, at + 1000),
    ],
    [
      'renewClaim',
      { revision: up, claim: 5 },
      (w, r) => w.services.records.renewClaim(ref(r, up), 5, at),
    ],
    [
      'release',
      { revision: up, claim: 5 },
      (w, r) => w.services.records.releaseAssembly(ref(r, up), 5),
    ],
    [
      'complete',
      { revision: up, claim: 5 },
      (w, r) => w.services.records.completeUpload(ref(r, up), 5, newContent),
    ],
    ['cancel', { revision: up }, (w, r) => w.services.records.cancelUpload(ref(r, up))],
    [
      'replaceContent',
      { revision: 'rcontent00000000' },
      (w, r) => w.services.records.replaceContent(ref(r, ''), newContent, 'rcontent00000000', at),
    ],
    [
      'markRetried',
      { revision: 'rcontent00000000', at: 500_000 },
      (w, r) => w.services.records.markRetried(ref(r, 'rcontent00000000'), 500_000),
    ],
    [
      'beginThumbnails',
      { revision: 'rcontent00000000', at },
      (w, r) => w.services.records.beginThumbnails(ref(r, 'rcontent00000000'), at, at + 1000),
    ],
    [
      'finishThumbnails',
      { revision: 'rcontent00000000' },
      (w, r) =>
        w.services.records.finishThumbnails(
          ref(r, 'rcontent00000000'),
          { status: 'done', thumbnails: [] },
          at,
        ),
    ],
    ['markDeleting', {}, (w, r) => w.services.records.markDeleting(ref(r, ''))],
  ];
  return { states, calls, ref, up, at };
}
