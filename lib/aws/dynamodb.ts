import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  type BatchGetCommandOutput,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { config } from '../config';
import { conflict } from '../domain/errors';
import type { FileRecord } from '../domain/file';
import type { FileRecords, Memberships } from '../domain/ports';
import { principalKey, type Principal, type Role } from '../domain/principal';

const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint }) }),
  { marshallOptions: { removeUndefinedValues: true } },
);

const LIVE = 'attribute_exists(id) AND attribute_not_exists(deleting)';
// `state` is a DynamoDB reserved word; the upload's other names are spelled out alike.
// DynamoDB refuses names an expression does not use, hence the pick.
const UPLOAD_NAMES = {
  '#upload': 'upload',
  '#revision': 'revision',
  '#state': 'state',
  '#count': 'chunk_count',
  '#total': 'total_chunks',
  '#claim': 'claim',
  '#until': 'claim_until',
  '#chunks': 'chunks',
  '#parts': 'parts',
};
const names = (...placeholders: (keyof typeof UPLOAD_NAMES)[]) =>
  Object.fromEntries(placeholders.map((placeholder) => [placeholder, UPLOAD_NAMES[placeholder]]));

async function unlessConditionFails<T>(write: Promise<T>): Promise<T | undefined> {
  try {
    return await write;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

const key = (companyId: string, fileId: string) => ({ company_id: companyId, id: fileId });

/** A conditional update of one file record; undefined when its condition does not hold. */
function update(
  companyId: string,
  fileId: string,
  input: Omit<UpdateCommandInput, 'TableName' | 'Key'>,
) {
  return unlessConditionFails(
    client.send(
      new UpdateCommand({ TableName: config.filesTable, Key: key(companyId, fileId), ...input }),
    ),
  );
}

export const fileRecords: FileRecords = {
  async get(companyId, fileId) {
    const { Item } = await client.send(
      new GetCommand({
        TableName: config.filesTable,
        Key: key(companyId, fileId),
        ConsistentRead: true,
      }),
    );
    return Item as FileRecord | undefined;
  },

  async *list(companyId) {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        companyId
          ? new QueryCommand({
              TableName: config.filesTable,
              KeyConditionExpression: 'company_id = :company',
              ExpressionAttributeValues: { ':company': companyId },
              ExclusiveStartKey: start,
              ConsistentRead: true,
            })
          : new ScanCommand({
              TableName: config.filesTable,
              ExclusiveStartKey: start,
              ConsistentRead: true,
            }),
      );
      for (const item of page.Items ?? []) yield item as FileRecord;
      start = page.LastEvaluatedKey;
    } while (start);
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
    const result = await update(companyId, fileId, {
      UpdateExpression: 'SET content = :content, updated_at = :now',
      ConditionExpression:
        `${LIVE} AND attribute_not_exists(upload) AND ` +
        (expectedRevision === undefined
          ? 'attribute_not_exists(content)'
          : 'content.revision = :expected'),
      ExpressionAttributeValues: {
        ':content': content,
        ':now': now,
        ...(expectedRevision !== undefined && { ':expected': expectedRevision }),
      },
      ReturnValues: 'ALL_NEW',
    });
    return result?.Attributes as FileRecord | undefined;
  },

  async startUpload(companyId, fileId, upload, { overwrite, replacing, retriedSince }) {
    let live = overwrite ? LIVE : `${LIVE} AND attribute_not_exists(content)`;
    if (retriedSince !== undefined) {
      live +=
        ' AND (attribute_exists(#upload) OR attribute_not_exists(content.retried) OR ' +
        'content.completed_at < :since OR content.chunks <> :chunks' +
        (upload.total_size ? ' OR content.#size <> :size)' : ')');
    }
    const result = await update(companyId, fileId, {
      UpdateExpression: replacing
        ? 'SET #upload = :upload, updated_at = :now'
        : 'SET #upload = if_not_exists(#upload, :upload), updated_at = :now',
      ConditionExpression: replacing ? `${live} AND #upload.#revision = :replacing` : live,
      ExpressionAttributeNames: {
        ...(replacing ? names('#upload', '#revision') : names('#upload')),
        // `size` is a reserved word.
        ...(retriedSince !== undefined && upload.total_size && { '#size': 'size' }),
      },
      ExpressionAttributeValues: {
        ':upload': upload,
        ':now': upload.started_at,
        ...(replacing && { ':replacing': replacing }),
        ...(retriedSince !== undefined && {
          ':since': retriedSince,
          ':chunks': upload.total_chunks,
          ...(upload.total_size && { ':size': upload.total_size }),
        }),
      },
      ReturnValues: 'ALL_NEW',
    });
    return result?.Attributes as FileRecord | undefined;
  },

  async recordChunk(companyId, fileId, revision, chunkNumber, chunk) {
    const result = await update(companyId, fileId, {
      UpdateExpression:
        'SET #upload.#chunks.#n = :chunk, #upload.#count = #upload.#count + :one, updated_at = :now',
      ConditionExpression:
        `${LIVE} AND #upload.#revision = :revision AND #upload.#state = :receiving ` +
        'AND attribute_not_exists(#upload.#chunks.#n)',
      ExpressionAttributeNames: {
        ...names('#upload', '#chunks', '#count', '#revision', '#state'),
        '#n': String(chunkNumber),
      },
      ExpressionAttributeValues: {
        ':chunk': chunk,
        ':one': 1,
        ':now': Date.now(),
        ':revision': revision,
        ':receiving': 'receiving',
      },
      ReturnValues: 'ALL_NEW',
    });
    return result?.Attributes as FileRecord | undefined;
  },

  async recordPart(companyId, fileId, revision, part, uploaded) {
    const result = await update(companyId, fileId, {
      UpdateExpression: 'SET #upload.#parts.#p = :part',
      ConditionExpression: `${LIVE} AND #upload.#revision = :revision`,
      ExpressionAttributeNames: {
        ...names('#upload', '#parts', '#revision'),
        '#p': String(part),
      },
      ExpressionAttributeValues: { ':part': uploaded, ':revision': revision },
    });
    return result !== undefined;
  },

  async claimAssembly(companyId, fileId, revision, claim, until) {
    const result = await update(companyId, fileId, {
      UpdateExpression:
        'SET #upload.#state = :assembling, #upload.#claim = :claim, #upload.#until = :until',
      ConditionExpression:
        `${LIVE} AND #upload.#revision = :revision AND #upload.#count = #upload.#total ` +
        'AND (#upload.#state = :receiving OR #upload.#until < :claim)',
      ExpressionAttributeNames: names(
        '#upload',
        '#state',
        '#claim',
        '#until',
        '#revision',
        '#count',
        '#total',
      ),
      ExpressionAttributeValues: {
        ':assembling': 'assembling',
        ':receiving': 'receiving',
        ':claim': claim,
        ':until': until,
        ':revision': revision,
      },
    });
    return result !== undefined;
  },

  async renewClaim(companyId, fileId, revision, claim, until) {
    const result = await update(companyId, fileId, {
      UpdateExpression: 'SET #upload.#until = :until',
      ConditionExpression: `${LIVE} AND #upload.#revision = :revision AND #upload.#claim = :claim`,
      ExpressionAttributeNames: names('#upload', '#until', '#revision', '#claim'),
      ExpressionAttributeValues: { ':until': until, ':revision': revision, ':claim': claim },
    });
    return result !== undefined;
  },

  async releaseAssembly(companyId, fileId, revision, claim) {
    await update(companyId, fileId, {
      UpdateExpression: 'SET #upload.#state = :receiving REMOVE #upload.#claim, #upload.#until',
      ConditionExpression: '#upload.#revision = :revision AND #upload.#claim = :claim',
      ExpressionAttributeNames: names('#upload', '#state', '#claim', '#until', '#revision'),
      ExpressionAttributeValues: {
        ':receiving': 'receiving',
        ':revision': revision,
        ':claim': claim,
      },
    });
  },

  async completeUpload(companyId, fileId, revision, claim, content) {
    const result = await update(companyId, fileId, {
      UpdateExpression: 'SET content = :content, updated_at = :now REMOVE #upload',
      ConditionExpression:
        `${LIVE} AND #upload.#revision = :revision AND #upload.#state = :assembling ` +
        'AND #upload.#claim = :claim',
      ExpressionAttributeNames: names('#upload', '#revision', '#state', '#claim'),
      ExpressionAttributeValues: {
        ':content': content,
        ':now': content.completed_at ?? Date.now(),
        ':revision': revision,
        ':assembling': 'assembling',
        ':claim': claim,
      },
      ReturnValues: 'ALL_NEW',
    });
    return result?.Attributes as FileRecord | undefined;
  },

  async cancelUpload(companyId, fileId, revision) {
    await update(companyId, fileId, {
      UpdateExpression: 'REMOVE #upload',
      ConditionExpression: '#upload.#revision = :revision',
      ExpressionAttributeNames: names('#upload', '#revision'),
      ExpressionAttributeValues: { ':revision': revision },
    });
  },

  async beginThumbnails(companyId, fileId, revision, now, until) {
    const result = await update(companyId, fileId, {
      UpdateExpression: 'SET content.thumbnail_lease = :until ADD content.thumbnail_attempts :one',
      ConditionExpression:
        `${LIVE} AND content.revision = :revision AND content.thumbnails_status = :waiting ` +
        'AND (attribute_not_exists(content.thumbnail_lease) OR content.thumbnail_lease < :now)',
      ExpressionAttributeValues: {
        ':one': 1,
        ':until': until,
        ':now': now,
        ':revision': revision,
        ':waiting': 'waiting',
      },
      ReturnValues: 'ALL_NEW',
    });
    return (result?.Attributes as FileRecord | undefined)?.content?.thumbnail_attempts;
  },

  async markRetried(companyId, fileId, revision, since) {
    const result = await update(companyId, fileId, {
      UpdateExpression: 'SET content.retried = :true',
      ConditionExpression:
        `${LIVE} AND content.revision = :revision AND attribute_not_exists(upload) ` +
        'AND content.completed_at >= :since',
      ExpressionAttributeValues: { ':true': true, ':revision': revision, ':since': since },
    });
    return result !== undefined;
  },

  async abandonThumbnails(companyId, fileId, revision) {
    await update(companyId, fileId, {
      UpdateExpression: 'REMOVE content.thumbnail_lease',
      ConditionExpression: 'content.revision = :revision',
      ExpressionAttributeValues: { ':revision': revision },
    });
  },

  async finishThumbnails(companyId, fileId, revision, { status, thumbnails }) {
    const result = await update(companyId, fileId, {
      UpdateExpression:
        'SET content.thumbnails_status = :status, content.thumbnails = :thumbnails, updated_at = :now ' +
        'REMOVE content.thumbnail_lease',
      ConditionExpression: `${LIVE} AND content.revision = :revision AND content.thumbnails_status = :waiting`,
      ExpressionAttributeValues: {
        ':status': status,
        ':thumbnails': thumbnails,
        ':now': Date.now(),
        ':revision': revision,
        ':waiting': 'waiting',
      },
    });
    return result !== undefined;
  },

  async markDeleting(companyId, fileId) {
    const result = await update(companyId, fileId, {
      UpdateExpression: 'SET deleting = :true',
      ConditionExpression: 'attribute_exists(id)',
      ExpressionAttributeValues: { ':true': true },
      ReturnValues: 'ALL_NEW',
    });
    return result?.Attributes as FileRecord | undefined;
  },

  async remove(companyId, fileId) {
    await client.send(
      new DeleteCommand({ TableName: config.filesTable, Key: key(companyId, fileId) }),
    );
  },
};

const ROLES: readonly Role[] = ['member', 'admin', 'application'];

const roleIn = (item: Record<string, unknown> | undefined): Role | undefined => {
  const role = item?.['role'];
  return ROLES.includes(role as Role) ? (role as Role) : undefined;
};

const memberKey = (companyId: string, principal: Principal) => ({
  company_id: companyId,
  principal: principalKey(principal),
});

/** Keys DynamoDB leaves unprocessed (throttling) are asked again, a few times. */
const BATCH_ATTEMPTS = 4;

export const memberships: Memberships = {
  async roleOf(companyId, principal) {
    const { Item } = await client.send(
      new GetCommand({ TableName: config.membersTable, Key: memberKey(companyId, principal) }),
    );
    return roleIn(Item);
  },

  async roleAndFile(companyId, fileId, principal) {
    let pending: BatchGetCommandInput['RequestItems'] = {
      [config.membersTable]: { Keys: [memberKey(companyId, principal)] },
      [config.filesTable]: { Keys: [key(companyId, fileId)], ConsistentRead: true },
    };
    const found = new Map<string, Record<string, unknown>>();
    for (let attempt = 1; pending && Object.keys(pending).length > 0; attempt++) {
      if (attempt > BATCH_ATTEMPTS) throw new Error('DynamoDB left keys unprocessed');
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      const { Responses, UnprocessedKeys }: BatchGetCommandOutput = await client.send(
        new BatchGetCommand({ RequestItems: pending }),
      );
      for (const [table, items] of Object.entries(Responses ?? {})) {
        if (items[0]) found.set(table, items[0]);
      }
      pending = UnprocessedKeys;
    }
    return {
      role: roleIn(found.get(config.membersTable)),
      record: found.get(config.filesTable) as FileRecord | undefined,
    };
  },
};
