import { tooLarge } from '../errors';
import type { RecordServices } from '../ports';

export const fileTooLarge = (s: RecordServices, bytes: number) =>
  tooLarge(`Files are limited to ${s.limits.maxFileBytes} bytes; this one has ${bytes}`);

export function checkFileSize(s: RecordServices, bytes: number): void {
  if (bytes > s.limits.maxFileBytes) throw fileTooLarge(s, bytes);
}
