import { abortDirect } from '../../lib/domain/direct-uploads';
import { authenticate } from '../../lib/http/auth';
import { directRef } from '../../lib/http/direct-params';
import { companyRoute, type HttpEvent } from '../../lib/http/request';
import { json } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { services } from '../../lib/services/storage';

/**
 * DELETE /companies/{company_id}/s3/multipart/{upload_id}?key=: S3 drops the parts; a file
 * with no content yet is removed with them.
 */
export const handler = httpRoute(async (event: HttpEvent) => {
  const principal = await authenticate(event);
  const ref = directRef(event, principal, companyRoute(event).companyId);
  return json(200, await abortDirect(services, ref));
});
