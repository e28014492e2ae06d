import type { APIGatewayProxyEventV2 } from 'aws-lambda';

export type HttpEvent = APIGatewayProxyEventV2;

export function query(event: HttpEvent): Readonly<Record<string, string | undefined>> {
  return event.queryStringParameters ?? {};
}

export function fileRoute(event: HttpEvent): {
  companyId: string | undefined;
  fileId: string | undefined;
} {
  return {
    companyId: event.pathParameters?.['company_id'],
    fileId: event.pathParameters?.['file_id'],
  };
}

/** `false`/`0` turn an on-by-default switch off. */
export function isOff(value: string | undefined): boolean {
  return value === 'false' || value === '0';
}
