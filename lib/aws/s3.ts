import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { config } from '../config';
import type { StoredChunk } from '../domain/assembly-plan';
import type { BlobStore } from '../domain/ports';

const client = new S3Client(
  config.s3Endpoint
    ? {
        endpoint: config.s3Endpoint,
        forcePathStyle: true,
        // s3rver stores aws-chunked (streamed, trailing-checksum) bodies verbatim, corrupting
        // them; against AWS the SDK's default checksums stay on.
        requestChecksumCalculation: 'WHEN_REQUIRED',
      }
    : {},
);

async function* listAll(prefix: string): AsyncGenerator<ListObjectsV2CommandOutput> {
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: config.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    yield page;
    token = page.NextContinuationToken;
  } while (token);
}

/** The chunks' bytes one after the other, checking each chunk has the size it was listed with. */
async function* concatenated(
  chunks: StoredChunk[],
  inMemory: ReadonlyMap<string, Uint8Array>,
): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) {
    const held = inMemory.get(chunk.key);
    if (held) {
      if (held.byteLength !== chunk.size)
        throw new Error(`${chunk.key} is not ${chunk.size} bytes`);
      yield held;
      continue;
    }
    const { Body } = await client.send(
      new GetObjectCommand({ Bucket: config.bucket, Key: chunk.key }),
    );
    let received = 0;
    for await (const piece of Body as Readable) {
      received += (piece as Uint8Array).byteLength;
      yield piece as Uint8Array;
    }
    if (received !== chunk.size) {
      throw new Error(`${chunk.key} changed during assembly (${received} != ${chunk.size} bytes)`);
    }
  }
}

export const blobs: BlobStore = {
  async put(key, body, contentType) {
    await client.send(
      new PutObjectCommand({
        Bucket: config.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ContentLength: body.byteLength,
      }),
    );
  },

  async sizes(prefix) {
    const sizes = new Map<string, number>();
    for await (const page of listAll(prefix)) {
      for (const { Key, Size } of page.Contents ?? []) if (Key) sizes.set(Key, Size ?? 0);
    }
    return sizes;
  },

  async startMultipart(key, contentType) {
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: config.bucket,
        Key: key,
        ContentType: contentType,
      }),
    );
    if (!UploadId) throw new Error('S3 returned no multipart upload id');
    return UploadId;
  },

  async uploadPart(key, uploadId, part, chunks, inMemory = new Map()) {
    const { ETag } = await client.send(
      new UploadPartCommand({
        Bucket: config.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: part,
        Body: Readable.from(concatenated(chunks, inMemory)),
        ContentLength: chunks.reduce((sum, chunk) => sum + chunk.size, 0),
      }),
    );
    if (!ETag) throw new Error(`S3 returned no ETag for part ${part} of ${key}`);
    return ETag;
  },

  async completeMultipart(key, uploadId, parts) {
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: config.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: {
          Parts: parts.map(({ part, etag }) => ({ PartNumber: part, ETag: etag })),
        },
      }),
    );
  },

  async abortMultipart(key, uploadId) {
    await client.send(
      new AbortMultipartUploadCommand({ Bucket: config.bucket, Key: key, UploadId: uploadId }),
    );
  },

  async deletePrefix(prefix) {
    for await (const page of listAll(prefix)) {
      const objects = (page.Contents ?? []).flatMap(({ Key }) => (Key ? [{ Key }] : []));
      if (objects.length === 0) continue;
      const { Errors } = await client.send(
        new DeleteObjectsCommand({
          Bucket: config.bucket,
          Delete: { Objects: objects, Quiet: true },
        }),
      );
      if (Errors && Errors.length > 0) {
        throw new Error(`S3 refused to delete ${Errors.length} object(s) under ${prefix}`);
      }
    }
  },

  async presignGet(key, { contentType, contentDisposition, expiresInSeconds }) {
    return getSignedUrl(
      client,
      new GetObjectCommand({
        Bucket: config.bucket,
        Key: key,
        ResponseContentType: contentType,
        ResponseContentDisposition: contentDisposition,
      }),
      { expiresIn: expiresInSeconds },
    );
  },
};
