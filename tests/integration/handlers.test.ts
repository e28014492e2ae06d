import { DeleteObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { handler as createFile } from '../../functions/http/create-file';
import { handler as deleteFile } from '../../functions/http/delete-file';
import { handler as downloadFile } from '../../functions/http/download-file';
import { handler as getFile } from '../../functions/http/get-file';
import { handler as getThumbnail } from '../../functions/http/get-thumbnail';
import { handler as uploadToFile } from '../../functions/http/upload-to-file';
import { binaryBytes } from '../helpers/api';
import { fileIdsOf, fileItem, objectKeys } from '../helpers/aws';
import { type HandlerResult, httpEvent, invoke, octetStream } from '../helpers/events';
import { afterFirst, answerWhile, faultOn } from '../helpers/faults';
import { createEmptyFile } from '../helpers/handlers';
import { image } from '../helpers/media';
import { newCompanyId, tokenFor } from '../helpers/principals';

type Result = HandlerResult;
const company = newCompanyId();
let token: string;

beforeAll(async () => {
  token = await tokenFor({ company, user: 'ivan' });
});

afterEach(() => jest.restoreAllMocks());

const body = <T = Record<string, unknown>>(result: Result) => JSON.parse(result.body) as T;

describe('the sample events in events/http drive each handler against the emulators', () => {
  test('create, upload, get, download, thumbnail, delete', async () => {
    const created = await invoke(
      createFile,
      httpEvent('create-file', { token, companyId: company }),
    );
    expect(created.statusCode).toBe(200);
    const { resource } = body(created) as { resource: { id: string; metadata: { name: string } } };
    expect(resource.metadata.name).toBe('hello.txt');
    expect(await fileItem(company, resource.id)).toMatchObject({ content: { size: 13 } });

    const emptyId = await createEmptyFile(company, token);
    const uploaded = await invoke(
      uploadToFile,
      httpEvent('upload-to-file', { token, companyId: company, fileId: emptyId }),
    );
    expect(uploaded.statusCode).toBe(200);
    expect(body(uploaded)).toMatchObject({
      resource: { id: emptyId, metadata: { name: 'hello.txt', mime: 'text/plain' } },
    });

    const read = await invoke(
      getFile,
      httpEvent('get-file', { token, companyId: company, fileId: emptyId }),
    );
    expect(read.statusCode).toBe(200);

    const link = await invoke(
      downloadFile,
      httpEvent('download-file', { token, companyId: company, fileId: emptyId }),
    );
    expect(link.statusCode).toBe(302);
    const object = await fetch(String(link.headers?.['location']));
    expect(await object.text()).toBe('hello, files\n');

    // An image, waited for with thumbnail_sync=1: the stack's thumbnailer makes its preview.
    const picture = await invoke(
      createFile,
      httpEvent('create-file', {
        token,
        companyId: company,
        query: { filename: 'picture.png', thumbnail_sync: '1' },
        body: octetStream(await image.png(800, 600)),
      }),
    );
    expect(picture.statusCode).toBe(200);
    const pictured = body<{ resource: { id: string; thumbnails: unknown[] } }>(picture).resource;
    expect(pictured.thumbnails).toHaveLength(1);
    const thumbnail = await invoke(
      getThumbnail,
      httpEvent('get-thumbnail', { token, companyId: company, fileId: pictured.id }),
    );
    expect(thumbnail.statusCode).toBe(302);
    const preview = await fetch(String(thumbnail.headers?.['location']));
    expect(preview.headers.get('content-type')).toBe('image/webp');
    expect((await preview.arrayBuffer()).byteLength).toBeGreaterThan(0);

    for (const id of [resource.id, emptyId, pictured.id]) {
      const removed = await invoke(
        deleteFile,
        httpEvent('delete-file', { token, companyId: company, fileId: id }),
      );
      expect(removed.statusCode).toBe(200);
      expect(await fileItem(company, id)).toBeUndefined();
    }
  });
});

describe('faults never leave a record that claims missing bytes', () => {
  test('S3 failing on the upload: 500 without internals, no record, a retry succeeds', async () => {
    const before = await fileIdsOf(company);
    faultOn(S3Client.prototype as never, PutObjectCommand, { failOn: 1 });
    const event = httpEvent('create-file', {
      token,
      companyId: company,
      body: octetStream(binaryBytes(500)),
    });
    const failed = await invoke(createFile, event);
    expect(failed.statusCode).toBe(500);
    expect(body(failed)).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
    });
    expect(await fileIdsOf(company)).toEqual(before);

    jest.restoreAllMocks();
    const retried = await invoke(createFile, event);
    expect(retried.statusCode).toBe(200);
  });

  test('DynamoDB failing after the bytes are stored: 500 and no record', async () => {
    const before = await fileIdsOf(company);
    faultOn(DynamoDBDocumentClient.prototype as never, PutCommand, { failOn: 1 });
    const failed = await invoke(
      createFile,
      httpEvent('create-file', { token, companyId: company, body: octetStream(binaryBytes(300)) }),
    );
    expect(failed.statusCode).toBe(500);
    expect(await fileIdsOf(company)).toEqual(before);
  });

  test('keys DynamoDB leaves unprocessed (throttling) are read again', async () => {
    const fileId = await createEmptyFile(company, token);
    const ref = { token, companyId: company, fileId };
    // Throttled twice: nothing read, every key handed back.
    const reads = answerWhile(
      DynamoDBDocumentClient.prototype as never,
      BatchGetCommand,
      (command, seen) =>
        seen <= 2 ? { Responses: {}, UnprocessedKeys: command.input.RequestItems } : undefined,
    );
    const read = await invoke(getFile, httpEvent('get-file', ref));
    expect(read.statusCode).toBe(200);
    expect(body<{ resource: { id: string } }>(read).resource.id).toBe(fileId);
    expect(reads.count).toBe(3);
  });

  test('keys DynamoDB never processes: 500, not a 403 or 404', async () => {
    const fileId = await createEmptyFile(company, token);
    answerWhile(DynamoDBDocumentClient.prototype as never, BatchGetCommand, (command) => ({
      Responses: {},
      UnprocessedKeys: command.input.RequestItems,
    }));
    const read = await invoke(
      getFile,
      httpEvent('get-file', { token, companyId: company, fileId }),
    );
    expect(read.statusCode).toBe(500);
  });

  test('a delete that fails half-way hides the file and finishes when repeated', async () => {
    const created = await invoke(
      createFile,
      httpEvent('create-file', { token, companyId: company, body: octetStream(binaryBytes(800)) }),
    );
    const fileId = body<{ resource: { id: string } }>(created).resource.id;
    const ref = { token, companyId: company, fileId };

    faultOn(S3Client.prototype as never, DeleteObjectsCommand, { failOn: 1 });
    const failed = await invoke(deleteFile, httpEvent('delete-file', ref));
    expect(failed.statusCode).toBe(500);
    expect(await objectKeys(`files/${company}/${fileId}/`)).toHaveLength(1);
    expect((await invoke(getFile, httpEvent('get-file', ref))).statusCode).toBe(404);
    expect((await invoke(downloadFile, httpEvent('download-file', ref))).statusCode).toBe(404);

    jest.restoreAllMocks();
    const repeated = await invoke(deleteFile, httpEvent('delete-file', ref));
    expect(repeated.statusCode).toBe(200);
    expect(await objectKeys(`files/${company}/${fileId}/`)).toEqual([]);
    expect(await fileItem(company, fileId)).toBeUndefined();
    expect((await invoke(deleteFile, httpEvent('delete-file', ref))).statusCode).toBe(404);
  });

  test('an overwrite that loses to a delete removes its own bytes and answers 409', async () => {
    const app = await tokenFor({ company, application: 'racer' });
    const created = await invoke(
      createFile,
      httpEvent('create-file', { token, companyId: company, body: octetStream(binaryBytes(100)) }),
    );
    const fileId = body<{ resource: { id: string } }>(created).resource.id;
    // The delete lands between the overwrite's upload of bytes and its record update.
    afterFirst(S3Client.prototype as never, PutObjectCommand, async () => {
      const removed = await invoke(
        deleteFile,
        httpEvent('delete-file', { token, companyId: company, fileId }),
      );
      expect(removed.statusCode).toBe(200);
    });
    const overwrite = await invoke(
      uploadToFile,
      httpEvent('upload-to-file', {
        token: app,
        companyId: company,
        fileId,
        body: octetStream(binaryBytes(200)),
      }),
    );
    expect(overwrite.statusCode).toBe(409);
    expect(await fileItem(company, fileId)).toBeUndefined();
    expect(await objectKeys(`files/${company}/${fileId}/`)).toEqual([]);
  });
});
