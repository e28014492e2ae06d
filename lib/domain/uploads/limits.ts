import { tooLarge } from '../errors';
import type { RecordServices } from '../ports';

/** Files are limited to `limit` bytes: the limit of their upload path. */
export const tooLargeFor = (limit: number, bytes: number) =>
  tooLarge(`Files are limited to ${limit} bytes; this one has ${bytes}`);

export const fileTooLarge = (s: RecordServices, bytes: number) =>
  tooLargeFor(s.limits.maxFileBytes, bytes);

export function checkFileSize(s: RecordServices, bytes: number): void {
  if (bytes > s.limits.maxFileBytes) throw fileTooLarge(s, bytes);
}
