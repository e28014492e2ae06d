import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { config } from '../config';
import { conflict } from '../domain/errors';
import type { FileRecord } from '../domain/file';
import type { FileRecords, Memberships } from '../domain/ports';
import { principalKey, type Role } from '../domain/principal';

const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint }) }),
  { marshallOptions: { removeUndefinedValues: true } },
);

const LIVE = 'attribute_exists(id) AND attribute_not_exists(deleting)';

async function unlessConditionFails<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

export const fileRecords: FileRecords = {
  async get(companyId, fileId) {
    const { Item } = await client.send(
      new GetCommand({
        TableName: config.filesTable,
        Key: { company_id: companyId, id: fileId },
        ConsistentRead: true,
      }),
    );
    return Item as FileRecord | undefined;
  },

  async create(record) {
    const created = await unlessConditionFails(
      client.send(
        new PutCommand({
          TableName: config.filesTable,
          Item: record,
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      ),
    );
    if (!created) throw conflict('A file with this id already exists');
  },

  async replaceContent(companyId, fileId, content, expectedRevision, now) {
    const result = await unlessConditionFails(
      client.send(
        new UpdateCommand({
          TableName: config.filesTable,
          Key: { company_id: companyId, id: fileId },
          UpdateExpression: 'SET content = :content, updated_at = :now',
          ConditionExpression:
            expectedRevision === undefined
              ? `${LIVE} AND attribute_not_exists(content)`
              : `${LIVE} AND content.revision = :expected`,
          ExpressionAttributeValues: {
            ':content': content,
            ':now': now,
            ...(expectedRevision !== undefined && { ':expected': expectedRevision }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return result?.Attributes as FileRecord | undefined;
  },

  async markDeleting(companyId, fileId) {
    const result = await unlessConditionFails(
      client.send(
        new UpdateCommand({
          TableName: config.filesTable,
          Key: { company_id: companyId, id: fileId },
          UpdateExpression: 'SET deleting = :true',
          ConditionExpression: 'attribute_exists(id)',
          ExpressionAttributeValues: { ':true': true },
        }),
      ),
    );
    return result !== undefined;
  },

  async remove(companyId, fileId) {
    await client.send(
      new DeleteCommand({
        TableName: config.filesTable,
        Key: { company_id: companyId, id: fileId },
      }),
    );
  },
};

const ROLES: readonly Role[] = ['member', 'admin', 'application'];

export const memberships: Memberships = {
  async roleOf(companyId, principal) {
    const { Item } = await client.send(
      new GetCommand({
        TableName: config.membersTable,
        Key: { company_id: companyId, principal: principalKey(principal) },
      }),
    );
    const role = Item?.['role'];
    return ROLES.includes(role) ? (role as Role) : undefined;
  },
};
