import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { handler as createFile } from '../../functions/http/create-file';
import { handler as deleteFile } from '../../functions/http/delete-file';
import { binaryBytes, sha256 } from '../helpers/api';
import { fileIdsOf, fileItem, objectKeys } from '../helpers/aws';
import { MiB } from '../helpers/chunks';
import { httpEvent, invoke, octetStream, resourceOf, type HandlerResult } from '../helpers/events';
import { injectedFault } from '../helpers/faults';
import { chunkParams, createEmptyFile, storedData, uploadBytes } from '../helpers/handlers';
import { newCompanyId, tokenFor } from '../helpers/principals';

/**
 * Every S3 and DynamoDB call a request makes fails in turn (a dry run lists them): the
 * request answers 500 in the error shape or, when the failed call was only an optimisation,
 * 200 with its work done; the same request retried succeeds; and no record ever claims
 * content whose object is missing or wrong.
 */
const company = newCompanyId();
let user: string;
let app: string;
const clients = [S3Client.prototype, DynamoDBDocumentClient.prototype] as unknown as {
  send: (...args: unknown[]) => Promise<unknown>;
}[];

beforeAll(async () => {
  [user, app] = await Promise.all([
    tokenFor({ company, user: 'fiona' }),
    tokenFor({ company, application: 'fault-app' }),
  ]);
});
afterEach(() => jest.restoreAllMocks());

/** Counts SDK calls (dry run) or fails call number `failAt`. */
function instrument(failAt?: number): { calls: string[] } {
  const log = { calls: [] as string[] };
  for (const prototype of clients) {
    const original = prototype.send;
    jest.spyOn(prototype, 'send').mockImplementation(function (this: unknown, ...args: unknown[]) {
      log.calls.push((args[0] as object).constructor.name);
      if (log.calls.length === failAt) return Promise.reject(injectedFault());
      return original.apply(this, args);
    });
  }
  return log;
}

const stored = (fileId: string) => storedData(company, fileId);

/** No record of the company claims content its object does not hold. */
async function consistent(): Promise<void> {
  for (const id of await fileIdsOf(company)) {
    const item = await fileItem(company, id);
    if (!item?.['content'] || item['deleting']) continue;
    expect((await stored(id))?.length).toBe(item['content'].size);
  }
}

const emptyFile = () => createEmptyFile(company, user);
const chunk = (fileId: string, token: string, n: number, total: number, bytes: Buffer) =>
  uploadBytes(company, fileId, token, chunkParams(n, total), bytes);

const small = binaryBytes(3000, 1);
const big = binaryBytes(5 * MiB, 2);
const replacement = binaryBytes(2000, 3);

interface Scenario {
  name: string;
  setup: () => Promise<string>;
  act: (fileId: string) => Promise<HandlerResult>;
  /** The effect of a successful request, checked after a 200. */
  done: (fileId: string, result: HandlerResult) => Promise<void>;
}

const scenarios: Scenario[] = [
  {
    name: 'create with data',
    setup: async () => '',
    act: () =>
      invoke(
        createFile,
        httpEvent('create-file', { token: user, companyId: company, body: octetStream(small) }),
      ),
    done: async (_, result) => expect(await stored(resourceOf(result).id)).toEqual(small),
  },
  {
    name: 'a chunk that does not complete the upload',
    setup: emptyFile,
    act: (fileId) => chunk(fileId, user, 1, 2, big.subarray(0, 4 * MiB)),
    done: async (fileId) =>
      expect((await fileItem(company, fileId))?.['upload']?.chunk_count).toBe(1),
  },
  {
    name: 'the chunk that completes the upload',
    setup: async () => {
      const fileId = await emptyFile();
      await chunk(fileId, user, 1, 2, big.subarray(0, 4 * MiB));
      return fileId;
    },
    act: (fileId) => chunk(fileId, user, 2, 2, big.subarray(4 * MiB)),
    done: async (fileId) =>
      expect(sha256((await stored(fileId)) ?? Buffer.alloc(0))).toBe(sha256(big)),
  },
  {
    name: "an application's overwrite",
    setup: async () => {
      const fileId = await emptyFile();
      await chunk(fileId, user, 1, 1, small);
      return fileId;
    },
    act: (fileId) => chunk(fileId, app, 1, 1, replacement),
    done: async (fileId) => expect(await stored(fileId)).toEqual(replacement),
  },
  {
    name: "an application's chunk sent again after its upload completed",
    setup: async () => {
      const fileId = await emptyFile();
      await chunk(fileId, app, 1, 2, big.subarray(0, 4 * MiB));
      await chunk(fileId, app, 2, 2, big.subarray(4 * MiB));
      return fileId;
    },
    act: (fileId) => chunk(fileId, app, 2, 2, big.subarray(4 * MiB)),
    done: async (fileId, result) => {
      expect(resourceOf<{ upload_data: { status: string } }>(result).upload_data.status).toBe(
        'complete',
      );
      const item = await fileItem(company, fileId);
      expect(item?.['upload']).toBeUndefined();
      expect(sha256((await stored(fileId)) ?? Buffer.alloc(0))).toBe(sha256(big));
    },
  },
  {
    name: 'delete',
    setup: async () => {
      const fileId = await emptyFile();
      await chunk(fileId, user, 1, 1, small);
      return fileId;
    },
    act: (fileId) =>
      invoke(deleteFile, httpEvent('delete-file', { token: user, companyId: company, fileId })),
    done: async (fileId) => {
      expect(await fileItem(company, fileId)).toBeUndefined();
      expect(await objectKeys(`files/${company}/${fileId}/`)).toEqual([]);
    },
  },
];

describe.each(scenarios)('$name', ({ setup, act, done }) => {
  test('fails safely at every SDK call, and a retry succeeds', async () => {
    const dry = await setup();
    const log = instrument();
    const clean = await act(dry);
    jest.restoreAllMocks();
    expect(clean.statusCode).toBe(200);
    const steps = log.calls.length;
    expect(steps).toBeGreaterThan(1);

    for (let step = 1; step <= steps; step++) {
      const fileId = await setup();
      const before = fileId ? await stored(fileId) : undefined;
      instrument(step);
      const result = await act(fileId);
      jest.restoreAllMocks();
      const where = `failing call ${step} of ${steps} (${log.calls[step - 1]})`;
      expect({ where, status: result.statusCode }).toEqual({ where, status: expect.any(Number) });
      expect([200, 500]).toContain(result.statusCode);
      if (result.statusCode === 500) {
        expect(JSON.parse(result.body)).toEqual({
          statusCode: 500,
          error: 'Internal Server Error',
          message: 'Internal server error',
        });
        // Nothing half-done shows: the old content (if any) is still what is stored.
        if (before && (await fileItem(company, fileId))?.['deleting'] === undefined) {
          const now = await stored(fileId);
          expect([sha256(before), sha256(replacement), sha256(big)]).toContain(
            sha256(now ?? Buffer.alloc(0)),
          );
        }
        const retried = await act(fileId);
        expect({ where, retry: retried.statusCode }).toEqual({ where, retry: 200 });
        await done(fileId, retried);
      } else {
        await done(fileId, result);
      }
      await consistent();
    }
  });
});
