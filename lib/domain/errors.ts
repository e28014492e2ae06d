/**
 * Typed failures of the file lifecycle. lib/http/errors.ts maps each kind to an HTTP status
 * once; messages are written for the API client and must never carry internals.
 */
export type ErrorKind =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'Conflict'
  | 'TooLarge'
  | 'UnsupportedMediaType';

export class DomainError extends Error {
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, message: string) {
    super(message);
    this.kind = kind;
    this.name = kind;
  }
}

export const badRequest = (message: string) => new DomainError('BadRequest', message);
export const unauthorized = (message: string) => new DomainError('Unauthorized', message);
export const forbidden = (message: string) => new DomainError('Forbidden', message);
export const notFound = (message: string) => new DomainError('NotFound', message);
export const conflict = (message: string) => new DomainError('Conflict', message);
export const tooLarge = (message: string) => new DomainError('TooLarge', message);
export const unsupportedMediaType = (message: string) =>
  new DomainError('UnsupportedMediaType', message);

/** Why S3 refused to complete a multipart upload, in its words. */
export const MULTIPART_REFUSALS = [
  'NoSuchUpload',
  'InvalidPart',
  'InvalidPartOrder',
  'EntityTooSmall',
] as const;
export type MultipartRefusal = (typeof MULTIPART_REFUSALS)[number];

/**
 * S3 refused CompleteMultipartUpload: the upload is gone (completed, aborted) or its parts are
 * not the ones listed. Thrown by the BlobStore; a direct upload's completion answers it as the
 * client's 4xx, for the chunk path it is a fault.
 */
export class MultipartRefused extends Error {
  readonly reason: MultipartRefusal;

  constructor(reason: MultipartRefusal, detail: string) {
    super(`${reason}: ${detail}`);
    this.name = 'MultipartRefused';
    this.reason = reason;
  }
}

/**
 * Work that cannot be done yet (another run holds it, its record is not written yet): thrown
 * from an asynchronous invocation so that Lambda runs it again later. Not a client error.
 */
export class RetryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLater';
  }
}
