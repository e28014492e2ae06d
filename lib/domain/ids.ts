import { randomBytes, randomUUID } from 'node:crypto';
import { notFound } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Twake company ids are uuids; short slugs are allowed for local use. Anything that could
// change the meaning of an S3 key ('/', '..', '%') is refused before it gets near one.
const COMPANY_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function newFileId(): string {
  return randomUUID();
}

/**
 * Revisions name the S3 prefix of one upload of a file's content. They are random rather
 * than counted so that two racing uploads can never pick the same key.
 */
export function newRevision(): string {
  return `r${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/** When a revision was made (its id starts with the time): tells a late event from an early one. */
export function revisionTime(revision: string): number {
  return parseInt(revision.slice(1, -8), 36);
}

/** Tells one attempt at a chunk from another. */
export function newChunkNonce(): string {
  return randomBytes(4).toString('hex');
}

export function checkCompanyId(companyId: string | undefined): string {
  if (!companyId || !COMPANY_ID.test(companyId)) throw notFound('Company not found');
  return companyId;
}

export function checkFileId(fileId: string | undefined): string {
  const id = fileId?.toLowerCase();
  if (!id || !UUID.test(id)) throw notFound('File not found');
  return id;
}

export const keys = {
  filePrefix: (companyId: string, fileId: string) => `files/${companyId}/${fileId}/`,
  revisionPrefix: (companyId: string, fileId: string, revision: string) =>
    `files/${companyId}/${fileId}/${revision}/`,
  data: (companyId: string, fileId: string, revision: string) =>
    `files/${companyId}/${fileId}/${revision}/data`,
  thumbnailsPrefix: (companyId: string, fileId: string, revision: string) =>
    `files/${companyId}/${fileId}/${revision}/thumbnails/`,
  thumbnail: (companyId: string, fileId: string, revision: string, id: string) =>
    `files/${companyId}/${fileId}/${revision}/thumbnails/${id}`,
  uploadsPrefix: (companyId: string, fileId: string) => `uploads/${companyId}/${fileId}/`,
  chunksPrefix: (companyId: string, fileId: string, revision: string) =>
    `uploads/${companyId}/${fileId}/${revision}/`,
  /** One attempt at a chunk: retries never overwrite bytes another attempt recorded. */
  chunk: (
    companyId: string,
    fileId: string,
    revision: string,
    chunkNumber: number,
    nonce: string,
  ) => `uploads/${companyId}/${fileId}/${revision}/${chunkNumber}.${nonce}`,
};
