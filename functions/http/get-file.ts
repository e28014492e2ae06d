import { getFile } from '../../lib/domain/files';
import { authenticate } from '../../lib/http/auth';
import { fileRoute, type HttpEvent } from '../../lib/http/request';
import { json } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { services } from '../../lib/services';

/** GET /companies/{company_id}/files/{file_id}: the file's metadata as `{resource}`. */
export const handler = httpRoute(async (event: HttpEvent) => {
  const principal = await authenticate(event);
  const resource = await getFile(services, { principal, ...fileRoute(event) });
  return json(200, { resource });
});
