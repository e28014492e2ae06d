import type { Context } from 'aws-lambda';
import { completeDirect } from '../../lib/domain/direct-uploads';
import { authenticate } from '../../lib/http/auth';
import { directRef, parseCompletedParts, readJsonBody } from '../../lib/http/direct-params';
import { linkSigning } from '../../lib/http/readers';
import { companyRoute, query, type HttpEvent } from '../../lib/http/request';
import { json } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { thumbnailSync } from '../../lib/http/upload-params';
import { services } from '../../lib/services/storage';

/** POST /companies/{company_id}/s3/multipart/{upload_id}/complete?key=: the file is complete. */
export const handler = httpRoute(async (event: HttpEvent, context: Context) => {
  const principal = await authenticate(event);
  const ref = directRef(event, principal, companyRoute(event).companyId);
  const completed = await completeDirect(services, {
    ...ref,
    parts: parseCompletedParts(readJsonBody(event)),
    thumbnailSync: thumbnailSync(query(event)),
    budgetMs: context.getRemainingTimeInMillis(),
    links: await linkSigning(),
  });
  return json(200, completed);
});
