import { assemblies } from '../aws/lambda';
import type { Services } from '../domain/ports';
import { services as storage } from './storage';

/** Every port: DynamoDB, S3, and Lambda to hand large uploads to the assembler. */
export const services: Services = { ...storage, assemblies };
