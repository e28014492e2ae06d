import type { Context } from 'aws-lambda';
import { createFile } from '../../lib/domain/files';
import { parseUploadParams } from '../../lib/http/upload-params';
import { authenticate } from '../../lib/http/auth';
import { linkSigning } from '../../lib/http/readers';
import { companyRoute, query, type HttpEvent } from '../../lib/http/request';
import { json } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { readUploadBody } from '../../lib/http/upload-body';
import { services } from '../../lib/services/storage';

/** POST /companies/{company_id}/files: a new file, with its first upload if data is sent. */
export const handler = httpRoute(async (event: HttpEvent, context: Context) => {
  const principal = await authenticate(event);
  const params = parseUploadParams(query(event));
  const data = await readUploadBody(event);
  const resource = await createFile(services, {
    principal,
    ...companyRoute(event),
    params,
    data,
    budgetMs: context.getRemainingTimeInMillis(),
    links: await linkSigning(),
  });
  return json(200, { resource });
});
