import middy, { type MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { DomainError } from '../domain/errors';
import { logger } from '../logger';
import { STATUS_OF, errorResponse } from './errors';
import type { HttpEvent } from './request';
import type { HttpResult } from './responses';

/**
 * Turns thrown domain errors into the one error shape and anything else into a bare 500,
 * and writes one access-log line per request. Only the path is logged: query strings may
 * carry `?token=`.
 */
function httpErrorsAndAccessLog(): MiddlewareObj<HttpEvent, HttpResult> {
  const started = new WeakMap<object, number>();
  const accessLog = (event: HttpEvent, response: HttpResult | null | undefined) => {
    logger.info('request', {
      method: event.requestContext?.http?.method,
      path: event.rawPath,
      status: response?.statusCode,
      ms: Date.now() - (started.get(event) ?? Date.now()),
    });
  };
  return {
    before: (request) => {
      started.set(request.event, Date.now());
      logger.appendKeys({
        company_id: request.event.pathParameters?.['company_id'],
        file_id: request.event.pathParameters?.['file_id'],
      });
    },
    after: (request) => accessLog(request.event, request.response),
    onError: (request) => {
      const { error } = request;
      if (error instanceof DomainError) {
        request.response = errorResponse(STATUS_OF[error.kind], error.message);
      } else {
        logger.error('unhandled error', error as Error);
        request.response = errorResponse(500, 'Internal server error');
      }
      accessLog(request.event, request.response);
    },
  };
}

/** The middleware stack every HTTP route shares. */
export function httpRoute(handler: (event: HttpEvent, context: Context) => Promise<HttpResult>) {
  return middy<HttpEvent, HttpResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(httpErrorsAndAccessLog())
    .handler(handler);
}
