/** Who is calling, as proven by the access token. */
export type Principal =
  | { readonly kind: 'user'; readonly userId: string }
  | { readonly kind: 'application'; readonly applicationId: string };

/** A principal's standing in one company (members table). */
export type Role = 'member' | 'admin' | 'application';

/** Members-table key of a principal: users and applications never share an id space. */
export function principalKey(principal: Principal): string {
  return principal.kind === 'user'
    ? `user:${principal.userId}`
    : `application:${principal.applicationId}`;
}
