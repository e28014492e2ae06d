/**
 * The protocol's own limit: 10,000 chunks of 100 bytes through the API, 5 in flight as
 * resumable.js sends them. A chunk should cost the same at chunk 10 and chunk 9,990: the
 * median time of a chunk among the first and the last 500, and the DynamoDB write units a
 * chunk's recording takes at both ends: ConsumedCapacity of the transaction a chunk is
 * recorded with (a chunk item put, the file's item updated), replayed at that point with a
 * scratch chunk item and an update that changes nothing; DynamoDB, and the emulator, count
 * both from the items' sizes. Bounded: one upload, and it stops once the file is complete or
 * after 15 minutes.
 */
import {
  DeleteItemCommand,
  DynamoDBClient,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { call, filesUrl } from '../../../tests/helpers/api';
import { sendChunk, splitChunks, type ChunkedUpload } from '../../../tests/helpers/chunks';
import { bearer } from '../../../tests/helpers/principals';
import { type BenchContext, type CaseResult, round, show, stats } from '../common';

const CHUNKS = 10_000;
const IN_FLIGHT = 5;
const ENDS = 500;
const DEADLINE_MS = 15 * 60 * 1000;

/** Write units of a chunk's recording, as the file's item is now (it changes nothing). */
async function writeUnits(ctx: BenchContext, fileId: string): Promise<number> {
  const dynamodb = new DynamoDBClient({ endpoint: ctx.stack.dynamodbEndpoint });
  const scratch = { upload: { S: `${ctx.company}/${fileId}/bench-scratch` }, n: { N: '1' } };
  const { ConsumedCapacity } = await dynamodb.send(
    new TransactWriteItemsCommand({
      ReturnConsumedCapacity: 'TOTAL',
      TransactItems: [
        {
          Put: {
            TableName: ctx.stack.uploadsTable,
            // A chunk item as lib/aws/dynamodb.ts writes it.
            Item: {
              ...scratch,
              size: { N: '100' },
              nonce: { S: '0123abcd' },
              expires_at: { N: '1900000000' },
            },
          },
        },
        {
          Update: {
            TableName: ctx.stack.filesTable,
            Key: { company_id: { S: ctx.company }, id: { S: fileId } },
            UpdateExpression: 'SET updated_at = updated_at',
          },
        },
      ],
    }),
  );
  await dynamodb.send(new DeleteItemCommand({ TableName: ctx.stack.uploadsTable, Key: scratch }));
  dynamodb.destroy();
  return (ConsumedCapacity ?? []).reduce((sum, used) => sum + (used.CapacityUnits ?? 0), 0);
}

/** Whether the upload completes within two minutes of its last chunk. */
async function completes(ctx: BenchContext, fileId: string): Promise<boolean> {
  for (const until = Date.now() + 120_000; Date.now() < until;) {
    const read = await call<{ resource: { upload_data: { status?: string } | null } }>(
      filesUrl(ctx.company, `/${fileId}`),
      { headers: bearer(ctx.token) },
    );
    if (read.body.resource.upload_data?.status === 'complete') return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

export async function manyChunks(ctx: BenchContext): Promise<CaseResult> {
  const created = await call<{ resource: { id: string } }>(filesUrl(ctx.company), {
    method: 'POST',
    headers: bearer(ctx.token),
  });
  const fileId = created.body.resource.id;
  const bytes = Buffer.alloc(CHUNKS * 100, 7);
  const upload: ChunkedUpload = {
    company: ctx.company,
    token: ctx.token,
    fileId,
    bytes,
    chunks: splitChunks(bytes, 100),
    naming: 'twake',
    filename: 'many-chunks.bin',
  };
  const started = performance.now();
  const times: number[] = new Array<number>(CHUNKS);
  const statuses = new Map<number, number>();
  const send = async (numbers: number[]) => {
    const queue = [...numbers];
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
          if (performance.now() - started > DEADLINE_MS) throw new Error('over 15 minutes');
          const sent = performance.now();
          const response = await sendChunk(upload, n);
          times[n - 1] = performance.now() - sent;
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        }
      }),
    );
  };
  const numbers = Array.from({ length: CHUNKS }, (_, i) => i + 1);
  await send(numbers.slice(0, ENDS));
  const firstUnits = await writeUnits(ctx, fileId);
  await send(numbers.slice(ENDS, -1));
  const lastUnits = await writeUnits(ctx, fileId);
  await send(numbers.slice(-1));
  const complete = await completes(ctx, fileId);
  const seconds = round((performance.now() - started) / 1000, 1);

  const first = stats(times.slice(0, ENDS), 1);
  const last = stats(times.slice(-ENDS), 1);
  const ratio = round(last.median / first.median, 2);
  const answers = [...statuses].map(([status, count]) => `${count} x ${status}`).join(', ');
  return {
    case: `${CHUNKS.toLocaleString('en')} chunks of 100 bytes, ${IN_FLIGHT} in flight`,
    service: `last ${ENDS} chunks: ${show(last, 'ms')}, ${lastUnits} write units each; ${seconds} s in all (${answers}), ${complete ? 'complete' : 'not complete after 2 min'}`,
    baseline: `first ${ENDS} chunks: ${show(first, 'ms')}, ${firstUnits} write units each`,
    result: `${ratio}x`,
    target: '<= 1.5x, no 5xx, complete',
    met: ratio <= 1.5 && ![...statuses.keys()].some((status) => status >= 500) && complete,
    figures: {
      chunks: CHUNKS,
      in_flight: IN_FLIGHT,
      first_ms: first,
      last_ms: last,
      ratio,
      first_write_units: firstUnits,
      last_write_units: lastUnits,
      seconds,
      complete,
      statuses: Object.fromEntries(statuses),
    },
  };
}
