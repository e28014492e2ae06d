import { signDirectPart, signDirectParts } from '../../lib/domain/direct-uploads';
import { authenticate } from '../../lib/http/auth';
import { directRef, parsePartSigning, partNumber, partNumbers } from '../../lib/http/direct-params';
import { companyRoute, query, type HttpEvent } from '../../lib/http/request';
import { json } from '../../lib/http/responses';
import { httpRoute } from '../../lib/http/route';
import { services } from '../../lib/services/storage';

/**
 * GET /companies/{company_id}/s3/multipart/{upload_id}/{part_number}?key=: a URL to PUT one
 * part to S3; `…/batch?key=&partNumbers=1,2` signs several.
 */
export const handler = httpRoute(async (event: HttpEvent) => {
  const principal = await authenticate(event);
  const ref = directRef(event, principal, companyRoute(event).companyId);
  const part = event.pathParameters?.['part_number'];
  if (part === 'batch') {
    return json(
      200,
      await signDirectParts(services, {
        ...ref,
        partNumbers: partNumbers(query(event)['partNumbers']),
      }),
    );
  }
  const signing = parsePartSigning(event);
  return json(
    200,
    await signDirectPart(services, { ...ref, partNumber: partNumber(part), ...signing }),
  );
});
