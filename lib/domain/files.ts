import { checkMayWrite, completeForUsers, openFile, requireRole, type FileRef } from './access';
import { attachmentDisposition } from './content-disposition';
import { badRequest, conflict, forbidden, notFound } from './errors';
import {
  creatorOf,
  isCreator,
  toPublicFile,
  type Content,
  type Declared,
  type FileRecord,
  type PublicFile,
} from './file';
import { keys, newFileId, newRevision } from './ids';
import { checkRequestData, nameAndMime, type IncomingData } from './incoming';
import type { Principal } from './principal';
import {
  isValidLink,
  linkLives,
  readLinks,
  type LinkSigning,
  type ReadTarget,
  type Reader,
} from './read-links';
import { awaitThumbnails, initialThumbnails } from './thumbnails';
import type { RecordServices, Services, StorageServices } from './ports';
import { fileKey, revisionRef } from './refs';
import {
  declaredFor,
  dropRevision,
  firstChunkOfNewFile,
  checkFileSize,
  checkNoRetriedChunk,
  hasChunk,
  isLateRetry,
  purgeFile,
  receiveChunk,
  totalChunksOf,
} from './uploads';
import { checkChunkNumber, type UploadParams } from './upload-params';

export type { FileRef } from './access';

interface UploadRequest {
  principal: Principal;
  params: UploadParams;
  data: IncomingData | undefined;
  /** Time the request has left (its Lambda's remaining time), for `thumbnail_sync`. */
  budgetMs: number;
  links: LinkSigning;
}

/** The public resource, its read links signed. */
export function present(s: RecordServices, record: FileRecord, links: LinkSigning): PublicFile {
  return toPublicFile(record, readLinks(links, record, s.now()));
}

function declaredFrom(params: UploadParams): Declared | undefined {
  const declared: Declared = {
    name: params.filename,
    mime: params.mime,
    total_size: params.totalSize,
    total_chunks: params.totalChunks,
  };
  const given = Object.entries(declared).filter(([, value]) => value !== undefined);
  return given.length > 0 ? Object.fromEntries(given) : undefined;
}

/** A whole file in one request: written straight to its final key as a new revision. */
async function storeWhole(
  s: StorageServices,
  record: Pick<FileRecord, 'company_id' | 'id' | 'declared' | 'content'>,
  params: UploadParams,
  data: IncomingData,
): Promise<Content> {
  checkChunkNumber(params.chunkNumber ?? 1, 1);
  checkRequestData(data);
  const declared = declaredFor(record);
  const size = data.bytes.byteLength;
  const declaredSize = params.totalSize ?? declared?.total_size;
  if (declaredSize && declaredSize !== size) {
    throw badRequest(`total_size says ${declaredSize} bytes but the request carried ${size}`);
  }
  const { name, mime } = nameAndMime(params, declared, data);
  const revision = newRevision();
  await s.blobs.put(keys.data(record.company_id, record.id, revision), data.bytes, mime);
  return {
    revision,
    name,
    mime,
    size,
    chunks: 1,
    ...initialThumbnails(s, { mime, name, size }),
    completed_at: s.now(),
  };
}

/**
 * The reply of an upload request: with `thumbnail_sync`, the request that completed the
 * content waits for its thumbnails (a chunk that leaves the upload incomplete never does).
 */
async function reply(
  s: RecordServices,
  request: UploadRequest,
  record: FileRecord,
): Promise<PublicFile> {
  const wait = request.params.thumbnailSync && !record.upload;
  const current = wait ? await awaitThumbnails(s, record, request.budgetMs) : record;
  return present(s, current, request.links);
}

/**
 * resumable.js sends every chunk to its `target`: set to the collection, each chunk would
 * create a file of its own. The first one may (it creates the file); any other is refused
 * with a status resumable.js gives up on at once.
 */
const chunkSentToCollection = (chunkNumber: number) =>
  badRequest(
    `chunk_number is ${chunkNumber}, but the collection route takes chunk 1 only (it creates ` +
      'the file): create the file first (POST …/files with no data), then send every chunk ' +
      "to …/files/{file_id} (resumable.js's target)",
  );

export async function createFile(
  s: StorageServices,
  request: UploadRequest & { companyId: string },
): Promise<PublicFile> {
  const { companyId } = request;
  await requireRole(s, request.principal, companyId);
  const { data, params } = request;
  const chunkNumber = params.chunkNumber ?? 1;
  if (chunkNumber > 1) throw chunkSentToCollection(chunkNumber);
  if (params.totalSize !== undefined) checkFileSize(s, params.totalSize);
  const now = s.now();
  const record: FileRecord = {
    company_id: companyId,
    id: newFileId(),
    ...creatorOf(request.principal),
    created_at: now,
    updated_at: now,
    declared: declaredFrom(request.params),
  };
  if (data && totalChunksOf(params, record) > 1) {
    return present(s, await firstChunkOfNewFile(s, record, { ...request, data }), request.links);
  }
  if (data) record.content = await storeWhole(s, record, params, data);
  if (!(await s.records.create(record)).ok) throw conflict('A file with this id already exists');
  return reply(s, request, record);
}

export async function uploadToFile(
  s: Services,
  request: UploadRequest & FileRef,
): Promise<PublicFile> {
  const { record } = await openFile(s, request);
  const { principal, params, data } = request;
  checkMayWrite(principal, record);
  if (await isLateRetry(s, record, request)) return present(s, record, request.links);
  if (principal.kind === 'user' && record.content) throw completeForUsers();
  if (!data) throw badRequest('No file data: send a multipart part named file');
  checkNoRetriedChunk(s, record, params);
  if (record.upload || totalChunksOf(params, record) > 1) {
    return reply(s, request, await receiveChunk(s, record, { principal, params, data }));
  }

  const previous = record.content?.revision;
  const content = await storeWhole(s, record, params, data);
  const updated = await s.records.replaceContent(fileKey(record), content, previous, s.now());
  if (!updated.ok) {
    await s.blobs.deletePrefix(keys.revisionPrefix(record.company_id, record.id, content.revision));
    throw conflict('The file changed during this upload (overwritten or deleted); retry');
  }
  if (previous) await dropRevision(s, record, previous);
  return reply(s, request, updated.record);
}

export async function getFile(
  s: RecordServices,
  ref: FileRef & { links: LinkSigning },
): Promise<PublicFile> {
  const { record } = await openFile(s, ref);
  return present(s, record, ref.links);
}

/** resumable.js's chunk test: the resource if chunk n is stored, undefined if not. */
export async function testChunk(
  s: RecordServices,
  ref: FileRef & { chunkNumber: number; links: LinkSigning },
): Promise<PublicFile | undefined> {
  const { record } = await openFile(s, ref);
  const overwriting = ref.principal.kind === 'application';
  const { upload } = record;
  const n = ref.chunkNumber;
  const recorded =
    upload !== undefined &&
    (await s.records.chunks(revisionRef(record, upload.revision), { from: n, to: n })).has(n);
  return hasChunk(record, n, { now: s.now(), overwriting, recorded })
    ? present(s, record, ref.links)
    : undefined;
}

/** A read of a file's bytes: by a member, by a signed link, or by ids alone where allowed. */
export interface ReadRef {
  reader: Reader;
  companyId: string;
  fileId: string;
}

async function openForReading(
  s: RecordServices,
  ref: ReadRef,
  target: ReadTarget,
): Promise<FileRecord> {
  const { reader } = ref;
  if (reader.kind === 'user' || reader.kind === 'application') {
    return (await openFile(s, { ...ref, principal: reader })).record;
  }
  const { companyId, fileId } = ref;
  const refused = () =>
    forbidden('This link is not valid: it has expired, was altered, or the file was overwritten');
  // An expired or malformed link costs no read.
  if (reader.kind === 'link' && !linkLives(reader, s.now())) throw refused();
  const record = await s.records.get({ companyId, fileId });
  if (!record || record.deleting) throw notFound('File not found');
  if (reader.kind === 'link' && !isValidLink(record, target, reader, s.now())) throw refused();
  return record;
}

export async function downloadLink(
  s: StorageServices,
  ref: ReadRef,
): Promise<{ url: string; expires_at: number }> {
  const record = await openForReading(s, ref, { kind: 'download' });
  const { content } = record;
  if (!content) throw conflict('The file has no complete upload yet');
  const ttl = s.downloadUrlTtlSeconds;
  const url = await s.blobs.presignGet(keys.data(record.company_id, record.id, content.revision), {
    contentType: content.mime,
    contentDisposition: attachmentDisposition(content.name),
    expiresInSeconds: ttl,
  });
  return { url, expires_at: s.now() + ttl * 1000 };
}

/** A thumbnail's presigned URL; the index must be a whole number naming an existing one. */
export async function thumbnailLink(
  s: StorageServices,
  ref: ReadRef & { index: string | undefined },
): Promise<{ url: string; expires_at: number; max_age: number }> {
  const index = /^\d{1,4}$/.test(ref.index ?? '') ? Number(ref.index) : -1;
  const record = await openForReading(s, ref, { kind: 'thumbnail', index });
  const { content } = record;
  const thumbnail = content?.thumbnails.find((candidate) => candidate.index === index);
  if (!content || !thumbnail) throw notFound('Thumbnail not found');
  const ttl = s.downloadUrlTtlSeconds;
  const key = keys.thumbnail(record.company_id, record.id, content.revision, thumbnail.id);
  const url = await s.blobs.presignGet(key, {
    contentType: thumbnail.type,
    contentDisposition: 'inline',
    expiresInSeconds: ttl,
  });
  // Reusable while it lives, with a margin for clocks and the request itself.
  return { url, expires_at: s.now() + ttl * 1000, max_age: Math.max(0, ttl - 30) };
}

/**
 * Record first marked `deleting` (readers see 404 at once), then every object of every
 * revision and upload removed, then the record. Each step can be repeated, so a delete that
 * failed half-way is finished by asking again.
 */
export async function deleteFile(s: StorageServices, ref: FileRef): Promise<void> {
  const { record, role } = await openFile(s, ref, { evenDeleting: true });
  const { company_id: companyId, id: fileId } = record;
  const allowed =
    ref.principal.kind === 'application' || role === 'admin' || isCreator(ref.principal, record);
  if (!allowed) {
    throw forbidden("Only the file's creator, a company admin or an application can delete it");
  }
  if (!(await purgeFile(s, companyId, fileId))) throw notFound('File not found');
}
