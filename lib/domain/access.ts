import { forbidden, notFound } from './errors';
import type { FileRecord } from './file';
import { checkCompanyId, checkFileId } from './ids';
import type { RecordServices } from './ports';
import type { Principal, Role } from './principal';

/** A request about one file, as the route gives it: ids are checked before any lookup. */
export interface FileRef {
  principal: Principal;
  companyId: string | undefined;
  fileId: string | undefined;
}

export async function requireRole(
  s: RecordServices,
  principal: Principal,
  companyId: string,
): Promise<Role> {
  const role = await s.members.roleOf(companyId, principal);
  if (!role) throw forbidden('You are not a member of this company');
  return role;
}

/** The file, for a member of its company; a file being deleted is already gone. */
export async function openFile(
  s: RecordServices,
  ref: FileRef,
): Promise<{ record: FileRecord; role: Role }> {
  const companyId = checkCompanyId(ref.companyId);
  const fileId = checkFileId(ref.fileId);
  // Both lookups at once (one round trip of latency instead of two), but the membership is
  // judged first: a non-member learns nothing, not even whether the read failed.
  const [role, record] = await Promise.allSettled([
    requireRole(s, ref.principal, companyId),
    s.records.get(companyId, fileId),
  ]);
  if (role.status === 'rejected') throw role.reason;
  if (record.status === 'rejected') throw record.reason;
  if (!record.value || record.value.deleting) throw notFound('File not found');
  return { record: record.value, role: role.value };
}
