import { createHash, randomUUID } from 'node:crypto';
import { MIN_PART_BYTES, type StoredChunk } from '../domain/assembly-plan';
import { MultipartRefused } from '../domain/errors';
import type { BlobStore, HeldPart } from '../domain/ports';

/** S3's refusals, by the names S3 gives them. */
export class S3LikeError extends Error {
  constructor(name: 'NoSuchKey' | 'NoSuchUpload', detail: string) {
    super(`${name}: ${detail}`);
    this.name = name;
  }
}

interface Multipart {
  key: string;
  type: string;
  parts: Map<number, { bytes: Buffer; etag: string }>;
}

/**
 * The BlobStore in memory, as S3 behaves where the service relies on it: a multipart upload's
 * object appears whole on completion only, with every part's ETag checked and every part
 * but the last at least 5 MiB; a part uploaded again replaces the earlier one (whose ETag no
 * longer completes); an aborted or completed upload takes no more parts.
 */
export class MemoryBlobs implements BlobStore {
  readonly #objects = new Map<string, { bytes: Buffer; type: string }>();
  readonly #uploads = new Map<string, Multipart>();

  keys(prefix = ''): string[] {
    return [...this.#objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }

  /** Multipart uploads neither completed nor aborted (S3's ListMultipartUploads). */
  openUploads(prefix = ''): string[] {
    return [...this.#uploads.values()].filter((u) => u.key.startsWith(prefix)).map((u) => u.key);
  }

  put(key: string, body: Uint8Array, contentType: string) {
    this.#objects.set(key, { bytes: Buffer.from(body), type: contentType });
    return Promise.resolve();
  }

  get(key: string) {
    const object = this.#objects.get(key);
    if (!object) return Promise.reject(new S3LikeError('NoSuchKey', key));
    return Promise.resolve(new Uint8Array(object.bytes));
  }

  getRange(key: string, start: number, length: number) {
    const object = this.#objects.get(key);
    const bytes = object?.bytes.subarray(start, start + length);
    return Promise.resolve(bytes ? new Uint8Array(bytes) : undefined);
  }

  sizes(prefix: string) {
    const sizes = new Map<string, number>();
    for (const key of this.keys(prefix)) sizes.set(key, this.#objects.get(key)!.bytes.length);
    return Promise.resolve(sizes);
  }

  startMultipart(key: string, contentType: string) {
    const id = randomUUID();
    this.#uploads.set(id, { key, type: contentType, parts: new Map() });
    return Promise.resolve(id);
  }

  uploadPart(
    key: string,
    uploadId: string,
    part: number,
    chunks: StoredChunk[],
    inMemory: ReadonlyMap<string, Uint8Array> = new Map(),
  ) {
    const upload = this.#uploads.get(uploadId);
    if (!upload || upload.key !== key) {
      return Promise.reject(new S3LikeError('NoSuchUpload', uploadId));
    }
    const pieces: Buffer[] = [];
    for (const chunk of chunks) {
      const held = inMemory.get(chunk.key);
      const bytes =
        held?.byteLength === chunk.size ? Buffer.from(held) : this.#objects.get(chunk.key)?.bytes;
      if (!bytes) return Promise.reject(new S3LikeError('NoSuchKey', chunk.key));
      if (bytes.length !== chunk.size) {
        return Promise.reject(
          new Error(`${chunk.key} is not the ${chunk.size} bytes it was recorded with`),
        );
      }
      pieces.push(bytes);
    }
    const bytes = Buffer.concat(pieces);
    // Stricter than S3, whose ETag of the same bytes uploaded again is the same: here only the
    // latest upload of a part completes, whatever it holds.
    const etag = `"${createHash('md5').update(bytes).update(randomUUID()).digest('hex')}"`;
    upload.parts.set(part, { bytes, etag });
    return Promise.resolve(etag);
  }

  completeMultipart(key: string, uploadId: string, parts: { part: number; etag: string }[]) {
    const upload = this.#uploads.get(uploadId);
    if (!upload || upload.key !== key) {
      return Promise.reject(new MultipartRefused('NoSuchUpload', uploadId));
    }
    const pieces: Buffer[] = [];
    for (const [i, { part, etag }] of parts.entries()) {
      const stored = upload.parts.get(part);
      if (!stored || stored.etag !== etag) {
        return Promise.reject(new MultipartRefused('InvalidPart', `part ${part} of ${key}`));
      }
      if (i < parts.length - 1 && stored.bytes.length < MIN_PART_BYTES) {
        return Promise.reject(new MultipartRefused('EntityTooSmall', `part ${part} of ${key}`));
      }
      pieces.push(stored.bytes);
    }
    this.#objects.set(key, { bytes: Buffer.concat(pieces), type: upload.type });
    this.#uploads.delete(uploadId);
    return Promise.resolve(undefined);
  }

  listParts(key: string, uploadId: string) {
    const upload = this.#uploads.get(uploadId);
    if (!upload || upload.key !== key) return Promise.resolve(undefined);
    const held: HeldPart[] = [...upload.parts]
      .sort(([a], [b]) => a - b)
      .map(([part, { bytes, etag }]) => ({ part, etag, size: bytes.length }));
    return Promise.resolve(held);
  }

  /** A client's PUT to a part URL: `bytes` become part `part` of the upload. */
  sendPart(uploadId: string, part: number, bytes: Uint8Array): string {
    const upload = this.#uploads.get(uploadId);
    if (!upload) throw new S3LikeError('NoSuchUpload', uploadId);
    const etag = `"${createHash('md5').update(bytes).update(randomUUID()).digest('hex')}"`;
    upload.parts.set(part, { bytes: Buffer.from(bytes), etag });
    return etag;
  }

  presignPart(key: string, uploadId: string, part: number, signing: { expiresInSeconds: number }) {
    const query = `uploadId=${uploadId}&partNumber=${part}&expires=${signing.expiresInSeconds}`;
    return Promise.resolve({
      url: `https://memory.invalid/${encodeURI(key)}?${query}`,
      headers: {},
    });
  }

  abortMultipart(key: string, uploadId: string) {
    if (!this.#uploads.delete(uploadId)) {
      return Promise.reject(new S3LikeError('NoSuchUpload', uploadId));
    }
    return Promise.resolve();
  }

  deletePrefix(prefix: string) {
    for (const key of this.keys(prefix)) this.#objects.delete(key);
    return Promise.resolve();
  }

  presignGet(key: string, options: { expiresInSeconds: number }) {
    return Promise.resolve(
      `https://memory.invalid/${encodeURI(key)}?expires=${options.expiresInSeconds}`,
    );
  }
}
