import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { config } from '../config';
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

  async deletePrefix(prefix) {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: config.bucket,
          Prefix: prefix,
          ContinuationToken: token,
        }),
      );
      const objects = (page.Contents ?? []).flatMap(({ Key }) => (Key ? [{ Key }] : []));
      if (objects.length > 0) {
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
      token = page.NextContinuationToken;
    } while (token);
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
