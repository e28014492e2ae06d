import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { checkCompanyId, checkFileId } from '../domain/ids';

export type HttpEvent = APIGatewayProxyEventV2;

export function query(event: HttpEvent): Readonly<Record<string, string | undefined>> {
  return event.queryStringParameters ?? {};
}

/** The route's company id, checked: a malformed one is a 404, as an unknown one is. */
export function companyRoute(event: HttpEvent): { companyId: string } {
  return { companyId: checkCompanyId(event.pathParameters?.['company_id']) };
}

/** The route's company and file ids, checked (404 when malformed), the file id lower-cased. */
export function fileRoute(event: HttpEvent): { companyId: string; fileId: string } {
  return {
    ...companyRoute(event),
    fileId: checkFileId(event.pathParameters?.['file_id']),
  };
}

/** `false`/`0` turn an on-by-default switch off. */
export function isOff(value: string | undefined): boolean {
  return value === 'false' || value === '0';
}
