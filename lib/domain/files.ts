import { lookup } from 'mime-types';
import { attachmentDisposition } from './content-disposition';
import { badRequest, conflict, forbidden, notFound, tooLarge } from './errors';
import {
  creatorOf,
  isCreator,
  toPublicFile,
  type Content,
  type Declared,
  type FileRecord,
  type PublicFile,
} from './file';
import { checkCompanyId, checkFileId, keys, newFileId, newRevision } from './ids';
import type { Principal, Role } from './principal';
import type { Services } from './ports';
import type { UploadParams } from './upload-params';

/**
 * File data accepted in one request. Lambda takes 6 MB per synchronous invocation and API
 * Gateway base64-encodes binary bodies, so 4 MiB of data is the most one request can carry.
 */
export const MAX_REQUEST_DATA_BYTES = 4 * 1024 * 1024;

/** Bytes of one request, with what the client said about them. */
export interface IncomingData {
  bytes: Uint8Array;
  filename?: string;
  mime?: string;
}

interface FileRef {
  principal: Principal;
  companyId: string | undefined;
  fileId: string | undefined;
}

interface UploadRequest {
  principal: Principal;
  params: UploadParams;
  data: IncomingData | undefined;
}

const GENERIC_MIME = 'application/octet-stream';

async function requireRole(s: Services, principal: Principal, companyId: string): Promise<Role> {
  const role = await s.members.roleOf(companyId, principal);
  if (!role) throw forbidden('You are not a member of this company');
  return role;
}

async function openFile(s: Services, ref: FileRef): Promise<{ record: FileRecord; role: Role }> {
  const companyId = checkCompanyId(ref.companyId);
  const fileId = checkFileId(ref.fileId);
  const role = await requireRole(s, ref.principal, companyId);
  const record = await s.records.get(companyId, fileId);
  if (!record || record.deleting) throw notFound('File not found');
  return { record, role };
}

function declaredFrom(params: UploadParams): Declared | undefined {
  const declared: Declared = {
    name: params.filename,
    mime: params.mime,
    total_size: params.totalSize,
    total_chunks: params.totalChunks,
  };
  const present = Object.entries(declared).filter(([, value]) => value !== undefined);
  return present.length > 0 ? Object.fromEntries(present) : undefined;
}

function requireSingleChunk(params: UploadParams, declared: Declared | undefined): void {
  const totalChunks = params.totalChunks ?? declared?.total_chunks ?? 1;
  if (totalChunks > 1) {
    throw badRequest(
      `total_chunks=${totalChunks}: chunked uploads are not available yet; send the whole file ` +
        `(up to ${MAX_REQUEST_DATA_BYTES} bytes) in one request`,
    );
  }
}

function nameAndMime(params: UploadParams, declared: Declared | undefined, data: IncomingData) {
  const name = params.filename ?? declared?.name ?? (data.filename || 'untitled');
  const partMime = data.mime && data.mime !== GENERIC_MIME ? data.mime : undefined;
  const mime = params.mime ?? declared?.mime ?? partMime ?? (lookup(name) || GENERIC_MIME);
  return { name, mime };
}

/** Writes one request's bytes as a complete revision; the record is not touched. */
async function storeWhole(
  s: Services,
  record: Pick<FileRecord, 'company_id' | 'id' | 'declared'>,
  params: UploadParams,
  data: IncomingData,
): Promise<Content> {
  requireSingleChunk(params, record.declared);
  const size = data.bytes.byteLength;
  if (size > MAX_REQUEST_DATA_BYTES) {
    throw tooLarge(
      `A request carries at most ${MAX_REQUEST_DATA_BYTES} bytes (4 MiB) of file data; ` +
        'send larger files in chunks',
    );
  }
  const declaredSize = params.totalSize ?? record.declared?.total_size;
  if (declaredSize && declaredSize !== size) {
    throw badRequest(`total_size says ${declaredSize} bytes but the request carried ${size}`);
  }
  const { name, mime } = nameAndMime(params, record.declared, data);
  const revision = newRevision();
  await s.blobs.put(keys.data(record.company_id, record.id, revision), data.bytes, mime);
  return { revision, name, mime, size, chunks: 1, thumbnails_status: 'done', thumbnails: [] };
}

export async function createFile(
  s: Services,
  request: UploadRequest & { companyId: string | undefined },
): Promise<PublicFile> {
  const companyId = checkCompanyId(request.companyId);
  await requireRole(s, request.principal, companyId);
  const now = s.now();
  const record: FileRecord = {
    company_id: companyId,
    id: newFileId(),
    ...creatorOf(request.principal),
    created_at: now,
    updated_at: now,
    declared: declaredFrom(request.params),
  };
  if (request.data) record.content = await storeWhole(s, record, request.params, request.data);
  await s.records.create(record);
  return toPublicFile(record);
}

export async function uploadToFile(
  s: Services,
  request: UploadRequest & FileRef,
): Promise<PublicFile> {
  const { record } = await openFile(s, request);
  const { principal } = request;
  if (principal.kind === 'user' && !isCreator(principal, record)) {
    throw forbidden("Only the file's creator or an application can upload into it");
  }
  if (principal.kind === 'user' && record.content) {
    throw forbidden('This file is complete: only applications can overwrite it');
  }
  if (!request.data) throw badRequest('No file data: send a multipart part named file');

  const previous = record.content?.revision;
  const content = await storeWhole(s, record, request.params, request.data);
  const updated = await s.records.replaceContent(
    record.company_id,
    record.id,
    content,
    previous,
    s.now(),
  );
  if (!updated) {
    await s.blobs.deletePrefix(keys.revisionPrefix(record.company_id, record.id, content.revision));
    throw conflict('The file changed during this upload (overwritten or deleted); retry');
  }
  if (previous) await dropRevision(s, record, previous);
  return toPublicFile(updated);
}

/**
 * Old revisions are removed once the new one is current. A failure here leaves only stray
 * objects under the file's prefix, which delete removes with everything else.
 */
async function dropRevision(s: Services, record: FileRecord, revision: string): Promise<void> {
  try {
    await s.blobs.deletePrefix(keys.revisionPrefix(record.company_id, record.id, revision));
  } catch (error) {
    s.warn('could not remove a replaced revision', { fileId: record.id, revision, error });
  }
}

export async function getFile(s: Services, ref: FileRef): Promise<PublicFile> {
  const { record } = await openFile(s, ref);
  return toPublicFile(record);
}

export async function downloadLink(
  s: Services,
  ref: FileRef,
): Promise<{ url: string; expires_at: number }> {
  const { record } = await openFile(s, ref);
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

/**
 * Record first marked `deleting` (readers see 404 at once), then every object of every
 * revision and upload removed, then the record. Each step can be repeated, so a delete that
 * failed half-way is finished by asking again.
 */
export async function deleteFile(s: Services, ref: FileRef): Promise<void> {
  const companyId = checkCompanyId(ref.companyId);
  const fileId = checkFileId(ref.fileId);
  const role = await requireRole(s, ref.principal, companyId);
  const record = await s.records.get(companyId, fileId);
  if (!record) throw notFound('File not found');
  const allowed =
    ref.principal.kind === 'application' || role === 'admin' || isCreator(ref.principal, record);
  if (!allowed)
    throw forbidden("Only the file's creator, a company admin or an application can delete it");

  if (!record.deleting && !(await s.records.markDeleting(companyId, fileId))) {
    throw notFound('File not found');
  }
  await s.blobs.deletePrefix(keys.filePrefix(companyId, fileId));
  await s.blobs.deletePrefix(keys.uploadsPrefix(companyId, fileId));
  await s.records.remove(companyId, fileId);
}
