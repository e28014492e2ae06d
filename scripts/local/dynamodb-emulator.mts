/**
 * dynalite in a process of its own, started by stack-plugin.mts: every DynamoDB call costs the
 * emulator more CPU than the function making it, and on a core of its own it does not stall
 * the API and functions (as DynamoDB, a service of its own, does not on AWS). Options arrive
 * as JSON in argv[2]. The process ends with its parent.
 *
 * dynalite has no TransactWriteItems and ignores ReturnValuesOnConditionCheckFailure, which
 * the service relies on. A front server adds both, as DynamoDB behaves: writes run one at a
 * time (reads wait while a transaction is applied, so none sees half of one), a transaction
 * applies its operations in turn and puts back the items it changed if any condition fails.
 * What it does not do: survive its own crash mid-transaction atomically.
 *
 * Transactions never overlap here, so none would ever meet the conflicts DynamoDB's optimistic
 * transactions meet under load. Items of companies named `txconflict-…` do: once an item has
 * been in a transaction, each write of it is cancelled with TransactionConflict the first time
 * it is sent (the same request sent again passes), so that tests see the service's retries.
 */
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './read-body.mts';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: object) => Server;

const { port, directory } = JSON.parse(process.argv[2] ?? '{}') as {
  port: number;
  directory: string;
};

type Json = Record<string, unknown>;
interface Reply {
  status: number;
  body: Json;
}

const TARGET = 'DynamoDB_20120810.';
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem']);
const errorType = (name: string) => `com.amazonaws.dynamodb.v20120810#${name}`;

const inner = dynalite({ path: directory, createTableMs: 0 });
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let innerPort = 0;

/** One operation on dynalite itself. */
function call(operation: string, body: Json, headers: http.IncomingHttpHeaders): Promise<Reply> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: innerPort,
        method: 'POST',
        path: '/',
        agent,
        headers: {
          ...headers,
          'x-amz-target': TARGET + operation,
          'content-length': Buffer.byteLength(payload),
        },
      },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          try {
            resolve({
              status: response.statusCode ?? 500,
              body: text ? (JSON.parse(text) as Json) : {},
            });
          } catch (error) {
            reject(error as Error);
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/**
 * Readers share, writers take turns alone: a transaction is never seen half applied. A waiting
 * writer holds new readers back, so that polling readers cannot keep it waiting.
 */
class TurnLock {
  #readers = 0;
  #writing = false;
  #writersWaiting = 0;
  #waiting: (() => void)[] = [];

  async read<T>(work: () => Promise<T>): Promise<T> {
    while (this.#writing || this.#writersWaiting > 0) await this.#turn();
    this.#readers++;
    try {
      return await work();
    } finally {
      this.#readers--;
      this.#wake();
    }
  }

  async write<T>(work: () => Promise<T>): Promise<T> {
    this.#writersWaiting++;
    while (this.#writing || this.#readers > 0) await this.#turn();
    this.#writersWaiting--;
    this.#writing = true;
    try {
      return await work();
    } finally {
      this.#writing = false;
      this.#wake();
    }
  }

  #turn(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #wake(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

const lock = new TurnLock();
const keySchemas = new Map<string, string[]>();

async function keyNames(table: string, headers: http.IncomingHttpHeaders): Promise<string[]> {
  let names = keySchemas.get(table);
  if (!names) {
    const { body } = await call('DescribeTable', { TableName: table }, headers);
    const schema = (body['Table'] as { KeySchema?: { AttributeName: string }[] } | undefined)
      ?.KeySchema;
    names = (schema ?? []).map((key) => key.AttributeName);
    // A table that does not exist (yet) is asked about again next time.
    if (names.length > 0) keySchemas.set(table, names);
  }
  return names;
}

async function keyOf(op: Json, headers: http.IncomingHttpHeaders): Promise<Json> {
  if (op['Key']) return op['Key'] as Json;
  const item = (op['Item'] ?? {}) as Json;
  const names = await keyNames(String(op['TableName']), headers);
  return Object.fromEntries(names.map((name) => [name, item[name]]));
}

async function currentItem(table: string, key: Json, headers: http.IncomingHttpHeaders) {
  const { body } = await call(
    'GetItem',
    { TableName: table, Key: key, ConsistentRead: true },
    headers,
  );
  return body['Item'] as Json | undefined;
}

const CONFLICT_MARK = 'txconflict-';
/** Items that were in a transaction; requests that met a conflict, until sent again. */
const transacted = new Set<string>();
const conflicted = new Set<string>();

/** Whether this request's write of the item meets a conflict (see the top of this file). */
function meetsConflict(table: string, key: Json, request: string, inTransaction: boolean) {
  const id = JSON.stringify([table, key]);
  if (!id.includes(CONFLICT_MARK) || (!inTransaction && !transacted.has(id))) return false;
  transacted.add(id);
  const attempt = createHash('sha256').update(request).update(id).digest('hex');
  if (conflicted.delete(attempt)) return false;
  conflicted.add(attempt);
  return true;
}

const conflictReply = (): Reply => ({
  status: 400,
  body: {
    __type: errorType('TransactionConflictException'),
    message: 'Transaction is ongoing for the item',
  },
});

const conditionFailed = (reply: Reply) =>
  reply.status === 400 && String(reply.body['__type']).endsWith('#ConditionalCheckFailedException');

/** A single write, with the item as it was when its condition failed, if asked for. */
async function singleWrite(operation: string, body: Json, headers: http.IncomingHttpHeaders) {
  const { ReturnValuesOnConditionCheckFailure: returnOld, ...rest } = body;
  if (operation === 'BatchWriteItem') return call(operation, rest, headers);
  const table = String(rest['TableName']);
  const key = await keyOf(rest, headers);
  if (meetsConflict(table, key, operation + JSON.stringify(body), false)) return conflictReply();
  const reply = await call(operation, rest, headers);
  // Writes take turns (the lock), so the item read after a failed condition is the one the
  // condition saw.
  if (returnOld === 'ALL_OLD' && conditionFailed(reply)) {
    const item = await currentItem(table, key, headers);
    if (item) reply.body['Item'] = item;
  }
  return reply;
}

interface Step {
  operation: 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheck';
  request: Json;
  returnOld: boolean;
  table: string;
  key: Json;
  before: Json | undefined;
}

/** Puts the item back as it was before the transaction; a failure here is the emulator's. */
async function restore(step: Step, headers: http.IncomingHttpHeaders): Promise<void> {
  const reply = step.before
    ? await call('PutItem', { TableName: step.table, Item: step.before }, headers)
    : await call('DeleteItem', { TableName: step.table, Key: step.key }, headers);
  if (reply.status !== 200) {
    throw new Error(`could not undo a cancelled transaction: ${JSON.stringify(reply.body)}`);
  }
}

const KINDS: Record<string, Step['operation']> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheck',
};
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** TransactWriteItems: every operation's condition holds and all apply, or none does. */
async function transactWrite(body: Json, headers: http.IncomingHttpHeaders): Promise<Reply> {
  const items = body['TransactItems'];
  if (!Array.isArray(items) || items.length === 0 || items.length > 100) {
    return validation('TransactItems must hold between 1 and 100 operations');
  }
  const steps: Step[] = [];
  const seen = new Set<string>();
  for (const entry of items as unknown[]) {
    const kinds = isObject(entry) ? Object.entries(entry) : [];
    const [kind, op] = kinds[0] ?? [];
    if (kinds.length !== 1 || !kind || !KINDS[kind] || !isObject(op) || !op['TableName']) {
      return validation('Each of TransactItems is one of Put, Update, Delete or ConditionCheck');
    }
    const { ReturnValuesOnConditionCheckFailure: returnOld, ...request } = op;
    const table = String(request['TableName']);
    const key = await keyOf(request, headers);
    const id = JSON.stringify([table, key]);
    if (seen.has(id)) {
      return validation('Transaction request cannot include multiple operations on one item');
    }
    seen.add(id);
    steps.push({
      operation: KINDS[kind],
      request,
      returnOld: returnOld === 'ALL_OLD',
      table,
      key,
      before: undefined,
    });
  }
  // Every item is looked at, so that the same request sent again passes for all of them.
  const request = JSON.stringify(items);
  const conflicts = steps.map((step) => meetsConflict(step.table, step.key, request, true));
  if (conflicts.some(Boolean)) {
    return cancelled(
      conflicts.map((conflict) =>
        conflict
          ? { Code: 'TransactionConflict', Message: 'Transaction is ongoing for the item' }
          : { Code: 'None' },
      ),
    );
  }

  const applied: Step[] = [];
  const reasons: Json[] = [];
  const capacity = new Map<string, number>();
  let failed = false;
  for (const step of steps) {
    step.before = await currentItem(step.table, step.key, headers);
    // A condition check changes nothing: a no-op update carries its condition.
    const request =
      step.operation === 'ConditionCheck'
        ? {
            ...step.request,
            UpdateExpression: 'REMOVE #emulatorNoSuchAttribute',
            ExpressionAttributeNames: {
              ...(step.request['ExpressionAttributeNames'] as Json),
              '#emulatorNoSuchAttribute': 'emulator-no-such-attribute',
            },
          }
        : step.request;
    const reply = await call(
      step.operation === 'ConditionCheck' ? 'UpdateItem' : step.operation,
      { ...request, ReturnConsumedCapacity: 'TOTAL' },
      headers,
    );
    if (reply.status === 200) {
      applied.push(step);
      reasons.push({ Code: 'None' });
      const units = Number(
        (reply.body['ConsumedCapacity'] as Json | undefined)?.['CapacityUnits'] ?? 1,
      );
      capacity.set(step.table, (capacity.get(step.table) ?? 0) + 2 * units);
      if (step.operation === 'ConditionCheck') await restore(step, headers);
    } else if (conditionFailed(reply)) {
      failed = true;
      reasons.push({
        Code: 'ConditionalCheckFailed',
        Message: 'The conditional request failed',
        ...(step.returnOld && step.before && { Item: step.before }),
      });
    } else {
      for (const done of applied.reverse()) await restore(done, headers);
      return reply;
    }
  }
  if (failed) {
    for (const done of applied.reverse()) await restore(done, headers);
    return cancelled(reasons);
  }
  const wanted = body['ReturnConsumedCapacity'];
  return {
    status: 200,
    body:
      wanted === 'TOTAL' || wanted === 'INDEXES'
        ? {
            ConsumedCapacity: [...capacity].map(([TableName, units]) => ({
              TableName,
              CapacityUnits: units,
              WriteCapacityUnits: units,
            })),
          }
        : {},
  };
}

function cancelled(reasons: Json[]): Reply {
  const codes = reasons.map((reason) => String(reason['Code'])).join(', ');
  return {
    status: 400,
    body: {
      __type: errorType('TransactionCanceledException'),
      message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes}]`,
      CancellationReasons: reasons,
    },
  };
}

function validation(message: string): Reply {
  return { status: 400, body: { __type: errorType('ValidationException'), message } };
}

function send(response: ServerResponse, reply: Reply): void {
  const payload = JSON.stringify(reply.body);
  response.writeHead(reply.status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': `emulator-${Date.now()}`,
  });
  response.end(payload);
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const target = String(request.headers['x-amz-target'] ?? '');
  const operation = target.startsWith(TARGET) ? target.slice(TARGET.length) : '';
  const raw = await readBody(request);
  const headers = { ...request.headers };
  delete headers['content-length'];
  if (request.method !== 'POST' || !operation) {
    // Anything but an operation (a probe, a preflight): dynalite answers it as it is.
    const proxied = http.request(
      {
        host: '127.0.0.1',
        port: innerPort,
        method: request.method,
        path: request.url,
        agent,
        headers: request.headers,
      },
      (reply) => {
        response.writeHead(reply.statusCode ?? 500, reply.headers);
        reply.pipe(response);
      },
    );
    proxied.on('error', () => response.destroy());
    proxied.end(raw);
    return;
  }
  let body: Json;
  try {
    body = JSON.parse(raw.toString('utf8') || '{}') as Json;
  } catch {
    send(response, {
      status: 400,
      body: { __type: errorType('SerializationException'), message: 'Malformed JSON' },
    });
    return;
  }
  const reply =
    operation === 'TransactWriteItems'
      ? await lock.write(() => transactWrite(body, headers))
      : WRITES.has(operation)
        ? await lock.write(() => singleWrite(operation, body, headers))
        : await lock.read(() => call(operation, body, headers));
  send(response, reply);
}

const server = http.createServer((request, response) => {
  handle(request, response).catch((error: unknown) => {
    send(response, {
      status: 500,
      body: { __type: errorType('InternalServerError'), message: String(error) },
    });
  });
});

function stop(): void {
  server.close(() => inner.close(() => process.exit(0)));
}
process.on('SIGTERM', stop);
process.on('SIGINT', () => undefined); // Ctrl-C reaches the whole group: the parent decides
process.on('disconnect', stop);

for (const listener of [server, inner]) {
  listener.once('error', (error) => {
    process.stderr.write(`DynamoDB emulator: ${String(error)}\n`);
    process.exit(1);
  });
}
inner.listen(0, '127.0.0.1', () => {
  innerPort = (inner.address() as AddressInfo).port;
  server.listen(port, '127.0.0.1', () => process.send?.({ type: 'ready' }));
});
