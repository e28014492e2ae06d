import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One structured JSON logger. Never give it a token, a presigned URL or a request's query
 * string: those carry credentials.
 */
export const logger = new Logger({ serviceName: 'serverless-files' });
