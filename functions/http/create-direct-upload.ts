import { startDirect } from '../../lib/domain/direct-uploads';
import { authenticate } from '../../lib/http/auth';
import { parseCreate, readJsonBody } from '../../lib/http/direct-params';
import { linkSigning } from '../../lib/http/readers';
import { companyRoute, type HttpEvent } from '../../lib/http/request';
import { json } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { services } from '../../lib/services/storage';

/** POST /companies/{company_id}/s3/multipart: a file whose bytes the client sends to S3. */
export const handler = httpRoute(async (event: HttpEvent) => {
  const principal = await authenticate(event);
  const started = await startDirect(services, {
    principal,
    ...companyRoute(event),
    ...parseCreate(readJsonBody(event)),
    links: await linkSigning(),
  });
  return json(200, started);
});
