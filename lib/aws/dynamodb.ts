import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
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
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { config } from '../config';
import type { FileRecord, ReceivedChunk } from '../domain/file';
import {
  firstFailed,
  guardsOf,
  type Bindings,
  type Guard,
  type GuardName,
  type Transition,
  type Written,
} from '../domain/lifecycle';
import type { FileRecords, Memberships } from '../domain/ports';
import type { FileKey, RevisionRef } from '../domain/refs';
import { principalKey, type Principal, type Role } from '../domain/principal';

const client = DynamoDBDocumentClient.from(
  new DynamoDBClient({ ...(config.dynamodbEndpoint && { endpoint: config.dynamodbEndpoint }) }),
  { marshallOptions: { removeUndefinedValues: true } },
);

const key = (file: FileKey) => ({ company_id: file.companyId, id: file.fileId });

/**
 * DynamoDB cancels a write that meets a transaction on the same item instead of queueing it
 * (TransactionConflict), and with several chunks of one upload in flight, their transactions
 * meet on the file's record. Such a write changed nothing: it is sent again after a random
 * pause, a few times. The SDK's own retries do not cover it.
 */
const CONFLICT_ATTEMPTS = 10;

function isConflict(error: unknown): boolean {
  if (error instanceof TransactionConflictException) return true;
  if (!(error instanceof TransactionCanceledException)) return false;
  const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
  const passing = (code: string) =>
    ['None', 'TransactionConflict', 'ThrottlingError'].includes(code);
  return codes.some((code) => code !== 'None') && codes.every(passing);
}

async function sendWrite<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (attempt >= CONFLICT_ATTEMPTS || !isConflict(error)) throw error;
      const pause = Math.random() * Math.min(250, 10 * 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

/**
 * What each guard of lifecycle.ts is as a condition expression. `state` and `size` are
 * reserved words, hence the names; the values are the write's bindings.
 */
const CONDITIONS: Readonly<Record<GuardName, string | ((bound: Bindings) => string)>> = {
  absent: 'attribute_not_exists(id)',
  exists: 'attribute_exists(id)',
  notDeleting: 'attribute_not_exists(deleting)',
  noContent: 'attribute_not_exists(content)',
  noUpload: 'attribute_not_exists(#upload)',
  contentIs: (bound) =>
    bound.revision === undefined ? 'attribute_not_exists(content)' : 'content.revision = :revision',
  uploadIs: '#upload.#revision = :revision',
  receiving: '#upload.#state = :receiving',
  assembling: '#upload.#state = :assembling',
  allChunksIn: '#upload.#count >= #upload.#total',
  claimFree: '(#upload.#state = :receiving OR #upload.#until < :at)',
  holdsClaim: '#upload.#claim = :claim',
  noRetriedChunk: (bound) =>
    '(attribute_exists(#upload) OR attribute_not_exists(content.retried) OR ' +
    'content.completed_at <= :at OR content.chunks <> :chunks' +
    (bound.size ? ' OR content.#size <> :size)' : ')'),
  completedSince: 'content.completed_at > :at',
  thumbnailsAwaited: 'content.thumbnails_status = :waiting',
  thumbnailsFree:
    '(attribute_not_exists(content.thumbnail_lease) OR content.thumbnail_lease < :at)',
};
const NAMES: Record<string, string> = {
  '#upload': 'upload',
  '#revision': 'revision',
  '#state': 'state',
  '#count': 'chunk_count',
  '#total': 'total_chunks',
  '#claim': 'claim',
  '#until': 'claim_until',
  '#size': 'size',
};
const CONSTANTS = { ':receiving': 'receiving', ':assembling': 'assembling', ':waiting': 'waiting' };

/** A change of one record and its values; `:name` placeholders of the guards come from bindings. */
interface Change {
  update: string;
  values?: Record<string, unknown>;
}

/** Values the guards' expressions name; a change names its own values otherwise. */
const GUARD_VALUES = [':revision', ':claim', ':at', ':chunks', ':size', ...Object.keys(CONSTANTS)];

/** The condition of the guards, with only the names and values the expressions use. */
function expression(guards: readonly Guard[], change: Change) {
  const clash = Object.keys(change.values ?? {}).filter((name) => GUARD_VALUES.includes(name));
  if (clash.length > 0) throw new Error(`a change may not name ${clash.join(', ')}`);
  const condition = guards
    .map((guard) => {
      const text = CONDITIONS[guard.name];
      return typeof text === 'function' ? text(guard) : text;
    })
    .join(' AND ');
  const text = `${change.update} ${condition}`;
  // Every guard carries the write's bindings (guardsOf): its values fill their placeholders.
  const bound: Bindings = Object.assign({}, ...guards);
  const all: Record<string, unknown> = {
    ...CONSTANTS,
    ':revision': bound.revision,
    ':claim': bound.claim,
    ':at': bound.at,
    ':chunks': bound.chunks,
    ':size': bound.size,
    ...change.values,
  };
  const used = <T>(table: Record<string, T>) =>
    Object.fromEntries(
      Object.entries(table).filter(([name]) => new RegExp(`${name}\\b`).test(text)),
    );
  const names = used(NAMES);
  const values = used(all);
  return {
    ...(condition && { ConditionExpression: condition }),
    ...(Object.keys(names).length > 0 && { ExpressionAttributeNames: names }),
    ...(Object.keys(values).length > 0 && { ExpressionAttributeValues: values }),
  };
}

/** Which guard refused a write, judged on the item as it was when its condition failed. */
function refusal(transition: Transition, guards: readonly Guard[], item: unknown) {
  const record = item
    ? (unmarshall(item as Record<string, AttributeValue>) as FileRecord)
    : undefined;
  const failed = firstFailed(guards, record);
  if (!failed) throw new Error(`DynamoDB refused ${transition} although its guards hold`);
  return { ok: false as const, failed, record };
}

/** One transition of one record: its change, written only while its guards hold. */
async function transition(
  file: FileKey,
  name: Transition,
  bindings: Bindings,
  change: Change,
): Promise<Written> {
  const guards = guardsOf(name, bindings);
  try {
    const { Attributes } = await sendWrite(() =>
      client.send(
        new UpdateCommand({
          TableName: config.filesTable,
          Key: key(file),
          UpdateExpression: change.update,
          ...expression(guards, change),
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    return { ok: true, record: Attributes as FileRecord };
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return refusal(name, guards, error.Item);
    throw error;
  }
}

/** Chunks and parts of an upload live in the uploads table, under keys of their own. */
const chunksOf = (ref: RevisionRef) => `${ref.companyId}/${ref.fileId}/${ref.revision}`;
const partsOf = (ref: RevisionRef) => `${chunksOf(ref)}/parts`;
/** DynamoDB's TTL removes them, at no cost, once the bucket has expired their objects. */
const expiresAt = () => Math.ceil(Date.now() / 1000) + config.abandonedUploadSeconds + 86_400;

async function queryAll(
  upload: string,
  range?: { from: number; to: number },
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: config.uploadsTable,
        KeyConditionExpression: range ? '#u = :u AND n BETWEEN :from AND :to' : '#u = :u',
        ExpressionAttributeNames: { '#u': 'upload' },
        ExpressionAttributeValues: {
          ':u': upload,
          ...(range && { ':from': range.from, ':to': range.to }),
        },
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

function chunkItem(ref: RevisionRef, chunkNumber: number, chunk: ReceivedChunk) {
  return {
    TableName: config.uploadsTable,
    Item: { upload: chunksOf(ref), n: chunkNumber, ...chunk, expires_at: expiresAt() },
    ConditionExpression: 'attribute_not_exists(n)',
  };
}

export const fileRecords: FileRecords = {
  async get(file) {
    const { Item } = await client.send(
      new GetCommand({ TableName: config.filesTable, Key: key(file), ConsistentRead: true }),
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

  async create(record, firstChunk) {
    const guards = guardsOf('create');
    const put = {
      TableName: config.filesTable,
      Item: record,
      ...expression(guards, { update: '' }),
    };
    const ref = {
      companyId: record.company_id,
      fileId: record.id,
      revision: record.upload?.revision ?? '',
    };
    try {
      await sendWrite<unknown>(() =>
        firstChunk
          ? client.send(
              new TransactWriteCommand({
                TransactItems: [
                  { Put: { ...put, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
                  { Put: chunkItem(ref, firstChunk.chunkNumber, firstChunk.chunk) },
                ],
              }),
            )
          : client.send(new PutCommand({ ...put, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })),
      );
      return { ok: true, record };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return refusal('create', guards, error.Item);
      }
      const [recordReason] =
        error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
      if (recordReason?.Code === 'ConditionalCheckFailed') {
        return refusal('create', guards, recordReason.Item);
      }
      throw error;
    }
  },

  replaceContent(file, content, expected, now) {
    return transition(
      file,
      'replaceContent',
      { revision: expected },
      {
        update: 'SET content = :content, updated_at = :now',
        values: { ':content': content, ':now': now },
      },
    );
  },

  startUpload(file, upload, how) {
    const values = { ':upload': upload, ':now': upload.started_at };
    if (how.as === 'restart' || how.as === 'restartOverwrite') {
      return transition(
        file,
        how.as,
        { revision: how.replacing },
        {
          update: 'SET #upload = :upload, updated_at = :now',
          values,
        },
      );
    }
    const bindings =
      how.as === 'overwrite'
        ? { at: how.retriedSince, chunks: upload.total_chunks, size: upload.total_size }
        : {};
    // Joins the upload already in progress, if there is one.
    return transition(file, how.as, bindings, {
      update: 'SET #upload = if_not_exists(#upload, :upload), updated_at = :now',
      values,
    });
  },

  async recordChunk(ref, chunkNumber, chunk, now) {
    const guards = guardsOf('recordChunk', { revision: ref.revision });
    const change = {
      update: 'SET updated_at = :now ADD #upload.#count :one',
      values: { ':one': 1, ':now': now },
    };
    const count = {
      TableName: config.filesTable,
      Key: key(ref),
      UpdateExpression: change.update,
      ...expression(guards, change),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    try {
      await sendWrite(() =>
        client.send(
          new TransactWriteCommand({
            TransactItems: [{ Put: chunkItem(ref, chunkNumber, chunk) }, { Update: count }],
          }),
        ),
      );
      return { ok: true };
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [chunkReason, countReason] = error.CancellationReasons ?? [];
      if (countReason?.Code === 'ConditionalCheckFailed') {
        return refusal('recordChunk', guards, countReason.Item);
      }
      if (chunkReason?.Code === 'ConditionalCheckFailed') {
        return { ok: false, failed: 'alreadyRecorded' };
      }
      throw error;
    }
  },

  async chunks(ref, range) {
    const items = await queryAll(chunksOf(ref), range);
    return new Map(
      items.map((item) => [
        Number(item['n']),
        { size: Number(item['size']), nonce: String(item['nonce']) },
      ]),
    );
  },

  async claimPart(ref, part) {
    try {
      await client.send(
        new PutCommand({
          TableName: config.uploadsTable,
          Item: { upload: partsOf(ref), n: part, expires_at: expiresAt() },
          ConditionExpression: 'attribute_not_exists(n)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  },

  async recordPart(ref, part, { etag, size }) {
    await client.send(
      new UpdateCommand({
        TableName: config.uploadsTable,
        Key: { upload: partsOf(ref), n: part },
        UpdateExpression: 'SET etag = :etag, #size = :size',
        ExpressionAttributeNames: { '#size': 'size' },
        ExpressionAttributeValues: { ':etag': etag, ':size': size },
      }),
    );
  },

  async parts(ref) {
    const items = await queryAll(partsOf(ref));
    const uploaded = items.filter((item) => item['etag'] !== undefined);
    return new Map(
      uploaded.map((item) => [
        Number(item['n']),
        { etag: String(item['etag']), size: Number(item['size']) },
      ]),
    );
  },

  claimAssembly(ref, claim, until) {
    // The fencing token is the claimer's clock: a claim lapsed before it is free.
    return transition(
      ref,
      'claim',
      { revision: ref.revision, at: claim },
      {
        update:
          'SET #upload.#state = :assembling, #upload.#claim = :token, #upload.#until = :until',
        values: { ':token': claim, ':until': until },
      },
    );
  },

  renewClaim(ref, claim, until) {
    return transition(
      ref,
      'renewClaim',
      { revision: ref.revision, claim },
      {
        update: 'SET #upload.#until = :until',
        values: { ':until': until },
      },
    );
  },

  releaseAssembly(ref, claim) {
    return transition(
      ref,
      'release',
      { revision: ref.revision, claim },
      {
        update: 'SET #upload.#state = :receiving REMOVE #upload.#claim, #upload.#until',
      },
    );
  },

  completeUpload(ref, claim, content) {
    return transition(
      ref,
      'complete',
      { revision: ref.revision, claim },
      {
        update: 'SET content = :content, updated_at = :now REMOVE #upload',
        values: { ':content': content, ':now': content.completed_at ?? Date.now() },
      },
    );
  },

  markRetried(ref, since) {
    return transition(
      ref,
      'markRetried',
      { revision: ref.revision, at: since },
      {
        update: 'SET content.retried = :true',
        values: { ':true': true },
      },
    );
  },

  cancelUpload(ref) {
    return transition(ref, 'cancel', { revision: ref.revision }, { update: 'REMOVE #upload' });
  },

  beginThumbnails(ref, now, until) {
    return transition(
      ref,
      'beginThumbnails',
      { revision: ref.revision, at: now },
      {
        update: 'SET content.thumbnail_lease = :until ADD content.thumbnail_attempts :one',
        values: { ':until': until, ':one': 1 },
      },
    );
  },

  abandonThumbnails(ref) {
    return transition(
      ref,
      'abandonThumbnails',
      { revision: ref.revision },
      {
        update: 'REMOVE content.thumbnail_lease',
      },
    );
  },

  finishThumbnails(ref, { status, thumbnails }, now) {
    return transition(
      ref,
      'finishThumbnails',
      { revision: ref.revision },
      {
        update:
          'SET content.thumbnails_status = :status, content.thumbnails = :thumbnails, ' +
          'updated_at = :now REMOVE content.thumbnail_lease',
        values: { ':status': status, ':thumbnails': thumbnails, ':now': now },
      },
    );
  },

  markDeleting(file) {
    return transition(
      file,
      'markDeleting',
      {},
      {
        update: 'SET deleting = :true',
        values: { ':true': true },
      },
    );
  },

  async remove(file) {
    await sendWrite(() =>
      client.send(new DeleteCommand({ TableName: config.filesTable, Key: key(file) })),
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
      [config.filesTable]: { Keys: [key({ companyId, fileId })], ConsistentRead: true },
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
