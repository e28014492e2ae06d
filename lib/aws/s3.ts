import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  NoSuchKey,
  NoSuchUpload,
  S3ServiceException,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type ListObjectsV2CommandOutput,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { FinalizeRequestMiddleware } from '@smithy/types';
import { config } from '../config';
import type { StoredChunk } from '../domain/assembly-plan';
import { MULTIPART_REFUSALS, MultipartRefused } from '../domain/errors';
import type { ChecksumAlgorithm } from '../domain/file';
import type { BlobStore, HeldPart } from '../domain/ports';

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

/**
 * Part URLs for clients. The SDK's default checksums (WHEN_SUPPORTED) would sign into every
 * part URL the CRC32 of the empty body it presigns, and S3 would refuse every real part; a
 * client's own checksum is bound in explicitly (presignPart).
 */
const presigning = new S3Client({
  ...(config.s3Endpoint && { endpoint: config.s3Endpoint, forcePathStyle: true }),
  requestChecksumCalculation: 'WHEN_REQUIRED',
});

/**
 * Bodies in memory are sent unsigned (`UNSIGNED-PAYLOAD`), as the SDK already does for streams:
 * signing one means a SHA-256 pass over every byte, ~10 ms of CPU per 4 MiB chunk and again
 * per part, only to protect bytes that TLS and, on AWS, the SDK's CRC32 checksum protect anyway.
 */
const unsignedPayload: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> =
  (next) => (args) => {
    const request = args.request as { headers?: Record<string, string>; body?: unknown };
    if (request.headers && ArrayBuffer.isView(request.body)) {
      request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
    }
    return next(args);
  };
client.middlewareStack.addRelativeTo(unsignedPayload, {
  name: 'unsignedPayload',
  relation: 'before',
  toMiddleware: 'httpSigningMiddleware',
});

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

/**
 * Part buffers, reused: with a fresh buffer per part the process would grow with the file, as
 * the allocator keeps the freed ones (glibc raises its mmap threshold after the first large
 * free, so later parts come from a heap it does not give back). Spares are kept for as many
 * parts as are ever in flight at once, a few MiB each.
 */
const MiB = 1024 * 1024;
const MAX_SPARE_BUFFERS = 4;
const spareBuffers: Buffer[] = [];

function takeBuffer(size: number): Buffer {
  const fits = spareBuffers.findIndex((buffer) => buffer.length >= size);
  if (fits >= 0) return spareBuffers.splice(fits, 1)[0]!;
  return Buffer.allocUnsafeSlow(Math.ceil(size / MiB) * MiB);
}

function giveBack(buffer: Buffer): void {
  spareBuffers.push(buffer);
  spareBuffers.sort((a, b) => b.length - a.length);
  spareBuffers.length = Math.min(spareBuffers.length, MAX_SPARE_BUFFERS);
}

/**
 * A part's bytes: its chunks copied into one buffer as they stream in, each checked against
 * the size it was recorded with. A buffer, not a stream: the SDK can then sign and retry the
 * part, and memory stays bounded by the parts in flight, never the file. `use` gets the
 * bytes; the buffer is reused once it returns.
 */
async function withPartBytes<T>(
  chunks: StoredChunk[],
  inMemory: ReadonlyMap<string, Uint8Array>,
  use: (bytes: Buffer) => Promise<T>,
): Promise<T> {
  const size = chunks.reduce((sum, chunk) => sum + chunk.size, 0);
  const buffer = takeBuffer(size);
  try {
    return await use(await fillPart(buffer.subarray(0, size), chunks, inMemory));
  } finally {
    giveBack(buffer);
  }
}

async function fillPart(
  part: Buffer,
  chunks: StoredChunk[],
  inMemory: ReadonlyMap<string, Uint8Array>,
): Promise<Buffer> {
  let start = 0;
  const placed = chunks.map((chunk) => {
    const at = start;
    start += chunk.size;
    return { chunk, at };
  });
  await Promise.all(
    placed.map(async ({ chunk, at }) => {
      let offset = at;
      const held = inMemory.get(chunk.key);
      if (held && held.byteLength === chunk.size) {
        part.set(held, at);
        return;
      }
      const { Body } = await client.send(
        new GetObjectCommand({ Bucket: config.bucket, Key: chunk.key }),
      );
      for await (const piece of Body as AsyncIterable<Uint8Array>) {
        if (offset + piece.byteLength > at + chunk.size) break;
        part.set(piece, offset);
        offset += piece.byteLength;
      }
      if (offset - at !== chunk.size) {
        throw new Error(`${chunk.key} is not the ${chunk.size} bytes it was recorded with`);
      }
    }),
  );
  return part;
}

/** Where S3 carries each checksum: the request's header, the SDK's field. */
const CHECKSUM_FIELDS = {
  CRC32C: { name: 'x-amz-checksum-crc32c', field: 'ChecksumCRC32C' },
  SHA256: { name: 'x-amz-checksum-sha256', field: 'ChecksumSHA256' },
} as const satisfies Record<ChecksumAlgorithm, { name: string; field: string }>;

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

  async get(key) {
    const { Body } = await client.send(new GetObjectCommand({ Bucket: config.bucket, Key: key }));
    if (!Body) throw new Error(`S3 returned no body for ${key}`);
    return Body.transformToByteArray();
  },

  async getRange(key, start, length) {
    try {
      const { Body } = await client.send(
        new GetObjectCommand({
          Bucket: config.bucket,
          Key: key,
          Range: `bytes=${start}-${start + length - 1}`,
        }),
      );
      if (!Body) throw new Error(`S3 returned no body for ${key}`);
      return await Body.transformToByteArray();
    } catch (error) {
      if (error instanceof NoSuchKey) return undefined; // replaced meanwhile
      throw error;
    }
  },

  async sizes(prefix) {
    const sizes = new Map<string, number>();
    for await (const page of listAll(prefix)) {
      for (const { Key, Size } of page.Contents ?? []) if (Key) sizes.set(Key, Size ?? 0);
    }
    return sizes;
  },

  async startMultipart(key, contentType, checksum) {
    const { UploadId } = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: config.bucket,
        Key: key,
        ContentType: contentType,
        ChecksumAlgorithm: checksum,
      }),
    );
    if (!UploadId) throw new Error('S3 returned no multipart upload id');
    return UploadId;
  },

  async uploadPart(key, uploadId, part, chunks, inMemory = new Map()) {
    const { ETag } = await withPartBytes(chunks, inMemory, (bytes) =>
      client.send(
        new UploadPartCommand({
          Bucket: config.bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: part,
          Body: bytes,
        }),
      ),
    );
    if (!ETag) throw new Error(`S3 returned no ETag for part ${part} of ${key}`);
    return ETag;
  },

  async listParts(key, uploadId) {
    const held: HeldPart[] = [];
    let marker: string | undefined;
    try {
      // Paged by hand: the SDK's paginator stops at the first page of ListParts.
      do {
        const page = await client.send(
          new ListPartsCommand({
            Bucket: config.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumberMarker: marker,
          }),
        );
        for (const part of page.Parts ?? []) {
          held.push({
            part: part.PartNumber ?? 0,
            etag: part.ETag ?? '',
            size: part.Size ?? 0,
            checksum: part.ChecksumCRC32C ?? part.ChecksumSHA256,
          });
        }
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (error) {
      if (error instanceof NoSuchUpload) return undefined;
      throw error;
    }
    return held;
  },

  async presignPart(key, uploadId, part, { expiresInSeconds, contentLength, checksum }) {
    const header = checksum && CHECKSUM_FIELDS[checksum.algorithm];
    const url = await getSignedUrl(
      presigning,
      new UploadPartCommand({
        Bucket: config.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: part,
        ContentLength: contentLength,
        ...(header && checksum && { [header.field]: checksum.value }),
      }),
      {
        expiresIn: expiresInSeconds,
        // The checksum stays a signed header (not a query parameter), as S3 verifies it.
        ...(header && { unhoistableHeaders: new Set([header.name]) }),
      },
    );
    return { url, headers: header && checksum ? { [header.name]: checksum.value } : {} };
  },

  async completeMultipart(key, uploadId, parts, checksum) {
    const field = checksum && CHECKSUM_FIELDS[checksum].field;
    const completed = await client
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: config.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {
            Parts: parts.map(({ part, etag, checksum: value }) => ({
              PartNumber: part,
              ETag: etag,
              ...(field && { [field]: value }),
            })),
          },
        }),
      )
      .catch((error: unknown) => {
        // S3's refusals that name the client's mistake or a gone upload.
        const refused = error instanceof S3ServiceException ? error.name : undefined;
        const reason = MULTIPART_REFUSALS.find((name) => name === refused);
        if (reason) throw new MultipartRefused(reason, `${key} ${uploadId}`);
        throw error;
      });
    return field ? completed[field] : undefined;
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
