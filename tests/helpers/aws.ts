import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** Direct views of the emulators, to check what the service really stored. */
export const s3 = new S3Client({
  endpoint: process.env['S3_ENDPOINT'],
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
});
const documents = DynamoDBDocumentClient.from(
  new DynamoDBClient({ endpoint: process.env['DYNAMODB_ENDPOINT'] }),
);

export async function objectKeys(prefix: string): Promise<string[]> {
  const { Contents } = await s3.send(
    new ListObjectsV2Command({ Bucket: process.env['BUCKET'], Prefix: prefix }),
  );
  return (Contents ?? []).map(({ Key }) => Key ?? '');
}

export async function fileItem(companyId: string, fileId: string) {
  const { Item } = await documents.send(
    new GetCommand({
      TableName: process.env['FILES_TABLE'],
      Key: { company_id: companyId, id: fileId },
      ConsistentRead: true,
    }),
  );
  return Item;
}

export async function memberItem(companyId: string, principal: string) {
  const { Item } = await documents.send(
    new GetCommand({
      TableName: process.env['MEMBERS_TABLE'],
      Key: { company_id: companyId, principal },
      ConsistentRead: true,
    }),
  );
  return Item;
}

export async function fileIdsOf(companyId: string): Promise<string[]> {
  const { Items } = await documents.send(
    new QueryCommand({
      TableName: process.env['FILES_TABLE'],
      KeyConditionExpression: 'company_id = :company',
      ExpressionAttributeValues: { ':company': companyId },
      ConsistentRead: true,
    }),
  );
  return (Items ?? []).map((item) => String(item['id']));
}

/** Writes a file record as the service would, for states no request can produce on cue. */
export async function putFileItem(item: Record<string, unknown>): Promise<void> {
  await documents.send(new PutCommand({ TableName: process.env['FILES_TABLE'], Item: item }));
}

/** The chunks recorded for an upload (an item each in the uploads table), by number. */
export async function chunkItems(
  companyId: string,
  fileId: string,
  revision: string,
): Promise<Record<number, { size: number; nonce: string }>> {
  const { Items } = await documents.send(
    new QueryCommand({
      TableName: process.env['UPLOADS_TABLE'],
      KeyConditionExpression: '#upload = :upload',
      ExpressionAttributeNames: { '#upload': 'upload' },
      ExpressionAttributeValues: { ':upload': `${companyId}/${fileId}/${revision}` },
      ConsistentRead: true,
    }),
  );
  return Object.fromEntries(
    (Items ?? []).map((item) => [item['n'], { size: item['size'], nonce: item['nonce'] }]),
  );
}
