import { readFileSync } from 'node:fs';
import path from 'node:path';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';

const eventsDir = path.resolve(__dirname, '../../events/http');

export interface EventOptions {
  token?: string;
  companyId?: string;
  fileId?: string;
  query?: Record<string, string>;
  body?: { bytes: Buffer; contentType: string };
}

/** A sample event from events/http/, pointed at a real company, file and principal. */
export function httpEvent(name: string, options: EventOptions = {}): APIGatewayProxyEventV2 {
  const event = JSON.parse(
    readFileSync(path.join(eventsDir, `${name}.json`), 'utf8'),
  ) as APIGatewayProxyEventV2;
  const params = { ...event.pathParameters };
  if (options.companyId) params['company_id'] = options.companyId;
  if (options.fileId) params['file_id'] = options.fileId;
  event.pathParameters = params;
  if (options.token) event.headers['authorization'] = `Bearer ${options.token}`;
  if (options.query) {
    event.queryStringParameters = options.query;
    event.rawQueryString = new URLSearchParams(options.query).toString();
  }
  if (options.body) {
    event.headers['content-type'] = options.body.contentType;
    event.body = options.body.bytes.toString('base64');
    event.isBase64Encoded = true;
  }
  return event;
}

export function lambdaContext(functionName = 'test'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 29_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function octetStream(bytes: Buffer) {
  return { bytes, contentType: 'application/octet-stream' };
}

export type HandlerResult = APIGatewayProxyStructuredResultV2 & { body: string };

/** Calls a handler as Lambda would, with a fresh context. */
export async function invoke(handler: unknown, event: unknown): Promise<HandlerResult> {
  const run = handler as (event: unknown, context: Context) => Promise<HandlerResult>;
  return run(event, lambdaContext());
}

/** The `resource` of a handler's JSON reply. */
export function resourceOf<T = { id: string }>(result: HandlerResult): T {
  return (JSON.parse(result.body) as { resource: T }).resource;
}
