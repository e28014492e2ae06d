import { forbidden, notFound } from './errors';
import { isCreator, type FileRecord } from './file';
import type { RecordServices } from './ports';
import type { Principal, Role } from './principal';

/** A request about one file; its ids were checked by the route (lib/http/request.ts). */
export interface FileRef {
  principal: Principal;
  companyId: string;
  fileId: string;
}

const notMember = () => forbidden('You are not a member of this company');

export async function requireRole(
  s: RecordServices,
  principal: Principal,
  companyId: string,
): Promise<Role> {
  const role = await s.members.roleOf(companyId, principal);
  if (!role) throw notMember();
  return role;
}

/**
 * The file, for a member of its company. A file being deleted is already gone, except for
 * delete itself (`evenDeleting`), which finishes a delete that failed half-way.
 */
export async function openFile(
  s: RecordServices,
  ref: FileRef,
  { evenDeleting = false } = {},
): Promise<{ record: FileRecord; role: Role }> {
  const { companyId, fileId } = ref;
  // One read for both, and the membership judged first: a non-member learns nothing.
  const { role, record } = await s.members.roleAndFile(companyId, fileId, ref.principal);
  if (!role) throw notMember();
  if (!record || (record.deleting && !evenDeleting)) throw notFound('File not found');
  return { record, role };
}

/** Only the file's creator or an application writes into a file (chunks, or straight to S3). */
export function checkMayWrite(principal: Principal, record: FileRecord): void {
  if (principal.kind === 'user' && !isCreator(principal, record)) {
    throw forbidden("Only the file's creator or an application can upload into it");
  }
}

/** A user writing into complete content: only applications overwrite. */
export const completeForUsers = () =>
  forbidden('This file is complete: only applications can overwrite it');
