import { STATUS_CODES } from 'node:http';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ErrorKind } from '../domain/errors';

/** The one table from domain failures to HTTP statuses. */
export const STATUS_OF: Readonly<Record<ErrorKind, number>> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  TooLarge: 413,
  UnsupportedMediaType: 415,
};

/** `{"statusCode":N,"error":"<reason phrase>","message":"..."}` on every route. */
export function errorResponse(
  statusCode: number,
  message: string,
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      ...(statusCode === 401 && { 'www-authenticate': 'Bearer' }),
    },
    body: JSON.stringify({ statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message }),
  };
}
