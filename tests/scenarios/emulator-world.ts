import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { principalKey } from '../../lib/domain/principal';
import { Clock, HeldJobs } from '../../lib/memory';
import { services as storage } from '../../lib/services/storage';
import { objectKeys, putFileItem } from '../helpers/aws';
import type { MakeWorld } from './world';

const documents = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint: process.env['DYNAMODB_ENDPOINT'] }),
);

/**
 * The service's own adapters over the local S3 and DynamoDB; the clock and jobs held here.
 * `conflicts`: companies whose writes meet a transaction conflict on the first try, as under
 * DynamoDB's optimistic transactions (scripts/local/dynamodb-emulator.mts).
 */
const emulators =
  ({ conflicts }: { conflicts: boolean }): MakeWorld =>
  (options = {}) => {
    const clock = new Clock(Date.now());
    const jobs = new HeldJobs();
    return Promise.resolve({
      name: conflicts ? 'emulators with transaction conflicts' : 'emulators',
      newCompany: () => `${conflicts ? 'txconflict-' : ''}${randomUUID()}`,
      services: {
        ...storage,
        assemblies: jobs,
        limits: { ...storage.limits, ...options.limits },
        now: clock.now,
        warn: () => undefined,
      },
      clock,
      jobs,
      addMember: async (companyId, principal, role) => {
        await documents.send(
          new PutCommand({
            TableName: process.env['MEMBERS_TABLE'],
            Item: { company_id: companyId, principal: principalKey(principal), role },
          }),
        );
      },
      objectKeys,
      putRecord: (record) => putFileItem(record as unknown as Record<string, unknown>),
      sendPart: async ({ key, uploadId }, part, bytes) => {
        const signed = await storage.blobs.presignPart(key, uploadId, part, {
          expiresInSeconds: 60,
        });
        const put = await fetch(signed.url, {
          method: 'PUT',
          headers: signed.headers,
          body: bytes,
        });
        if (put.status !== 200) throw new Error(`part ${part}: ${put.status} ${await put.text()}`);
        return put.headers.get('etag') ?? '';
      },
    });
  };

export const onEmulators = emulators({ conflicts: false });
export const onEmulatorsWithConflicts = emulators({ conflicts: true });
