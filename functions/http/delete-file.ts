import { deleteFile } from '../../lib/domain/files';
import { authenticate } from '../../lib/http/auth';
import { fileRoute, type HttpEvent } from '../../lib/http/request';
import { json } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { services } from '../../lib/services/storage';

/** DELETE /companies/{company_id}/files/{file_id}: the record and every object of the file. */
export const handler = httpRoute(async (event: HttpEvent) => {
  const principal = await authenticate(event);
  await deleteFile(services, { principal, ...fileRoute(event) });
  return json(200, { status: 'success' });
});
