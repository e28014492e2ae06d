/**
 * s3rver in a process of its own, started by stack-plugin.mts: the S3 emulator hashes and
 * writes every byte, and on a separate core it does not stall the API and functions.
 * Options arrive as JSON in argv[2]; S3 events go to the parent over IPC, which delivers them
 * to the subscribed functions. The process ends with its parent.
 *
 * s3rver 3.7.1 has no ListParts and no AbortMultipartUpload (it answers 405), takes parts for
 * uploads that do not exist, and completes an upload without checking its parts (a part never
 * uploaded crashes it). A front server on the stack's port answers those as S3 does, from
 * s3rver's own part store, and hands everything else to s3rver's request handler, in this
 * process (a second HTTP hop would cost every stored byte a copy on the same core).
 *
 * s3rver checks only the access key id of a signature. The front server checks presigned
 * requests (SigV4 in the query, as browsers and download links use them) as S3 does: the
 * signature is computed again with the SDK's own presigner, against the emulator's
 * credentials, and an expired, altered or partly signed request is refused. A part sent with
 * a CRC32C or SHA-256 checksum is stored only if its bytes have it (BadDigest otherwise), and
 * ListParts returns it. An upload created with a checksum algorithm takes only parts that
 * carry that checksum, completes only with each part's checksum listed, and answers the
 * object's composite checksum (the checksum of the parts' checksums, `-N`), as S3 does.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { Crc32c } from '@aws-sdk/checksums/crc';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { createHash, timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Readable } from 'node:stream';
import { readBody } from './read-body.mts';

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as new (options: object) => {
  configureBuckets(): Promise<void>;
  callback(): (request: IncomingMessage, response: ServerResponse) => void;
  on(event: 'event', listener: (event: unknown) => void): void;
  store: { getResourcePath(bucket: string, key: string | undefined, resource: string): string };
};

const { port, directory, bucket, cors } = JSON.parse(process.argv[2] ?? '{}') as {
  port: number;
  directory: string;
  bucket: string;
  /** The bucket's CORS rules as S3's XML: s3rver sends CORS headers only under such rules. */
  cors?: string;
};

const server = new S3rver({
  directory,
  silent: true,
  configureBuckets: [{ name: bucket, configs: cors ? [cors] : [] }],
});
server.on('event', (event) => process.send?.({ type: 'event', event }));

const MIN_PART_BYTES = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;

interface Reply {
  status: number;
  xml?: string;
}

const escape = (text: string) => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function error(status: number, code: string, message: string, extra: Record<string, string> = {}) {
  const fields = Object.entries(extra)
    .map(([name, value]) => `<${name}>${escape(value)}</${name}>`)
    .join('');
  return {
    status,
    xml: `<Error><Code>${code}</Code><Message>${escape(message)}</Message>${fields}</Error>`,
  };
}

const noSuchUpload = (uploadId: string) =>
  error(
    404,
    'NoSuchUpload',
    'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    { UploadId: uploadId },
  );

interface StoredPart {
  number: number;
  size: number;
  etag: string;
  modified: Date;
  checksums: Partial<Record<ChecksumName, string>>;
}

/** The part checksums S3 verifies: header, ListParts field, digest (base64 of big-endian). */
const CHECKSUMS = {
  CRC32C: {
    header: 'x-amz-checksum-crc32c',
    bytes: 4,
    digest: async (body: Buffer) => {
      const crc = new Crc32c();
      crc.update(body);
      return Buffer.from(await crc.digest()).toString('base64');
    },
  },
  SHA256: {
    header: 'x-amz-checksum-sha256',
    bytes: 32,
    digest: (body: Buffer) => Promise.resolve(createHash('sha256').update(body).digest('base64')),
  },
} as const;
type ChecksumName = keyof typeof CHECKSUMS;
const CHECKSUM_NAMES = Object.keys(CHECKSUMS) as ChecksumName[];

/** An upload id as s3rver makes them (a folder name in its store). */
const UPLOAD_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The algorithm an upload was created with (CreateMultipartUpload's header), if any. */
const algorithmOf = async (folder: string) =>
  (await readFile(path.join(folder, 'checksum-algorithm'), 'utf8').catch(() => undefined)) as
    ChecksumName | undefined;

/** S3's checksum of a multipart object: of the parts' checksums, then `-` and their count. */
async function compositeChecksum(algorithm: ChecksumName, partChecksums: string[]) {
  const joined = Buffer.concat(partChecksums.map((value) => Buffer.from(value, 'base64')));
  return `${await CHECKSUMS[algorithm].digest(joined)}-${partChecksums.length}`;
}

/**
 * CreateMultipartUpload with `x-amz-checksum-algorithm`: s3rver ignores it, so the algorithm
 * is kept beside the upload's parts once s3rver has answered its id.
 */
function keepAlgorithm(request: IncomingMessage, response: ServerResponse, uploads: string) {
  const header = String(request.headers['x-amz-checksum-algorithm'] ?? '').toUpperCase();
  const algorithm = CHECKSUM_NAMES.find((name) => name === header);
  if (!algorithm) return;
  beforeEnd(response, (xml) => {
    const id = /<UploadId>([^<]+)<\/UploadId>/.exec(xml)?.[1];
    if (id && UPLOAD_ID.test(id)) {
      writeFileSync(path.join(uploads, id, 'checksum-algorithm'), algorithm);
    }
    return undefined;
  });
}

/** CompleteMultipartUpload's answer, with the object's checksum added as S3 adds it. */
function addChecksum(response: ServerResponse, algorithm: ChecksumName, checksum: string) {
  beforeEnd(response, (xml) =>
    xml.includes('</CompleteMultipartUploadResult>')
      ? xml.replace(
          '</CompleteMultipartUploadResult>',
          `<Checksum${algorithm}>${checksum}</Checksum${algorithm}><ChecksumType>COMPOSITE</ChecksumType></CompleteMultipartUploadResult>`,
        )
      : undefined,
  );
}

/**
 * s3rver's answer seen before it is sent (Koa ends a response with its whole body): `look`
 * returns the body to send instead, or undefined to send it as it is.
 */
function beforeEnd(response: ServerResponse, look: (body: string) => string | undefined) {
  const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
  response.end = ((...args: unknown[]) => {
    const replaced = look(String(args[0] ?? ''));
    if (replaced === undefined) return end(...args);
    response.setHeader('content-length', Buffer.byteLength(replaced));
    return end(replaced);
  }) as typeof response.end;
}

const isDigest = (value: string, bytes: number) =>
  /^[A-Za-z0-9+/]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === bytes;

/** An upload in s3rver's store: its folder and key, if it exists and is of this key. */
async function openUpload(bucketName: string, key: string, uploadId: string) {
  if (!UPLOAD_ID.test(uploadId)) return undefined;
  const folder = path.join(
    server.store.getResourcePath(bucketName, undefined, 'uploads'),
    uploadId,
  );
  const storedKey = await readFile(path.join(folder, 'key'), 'utf8').catch(() => undefined);
  return storedKey === key ? folder : undefined;
}

async function storedParts(folder: string): Promise<StoredPart[]> {
  const names = (await readdir(folder)).filter((name) => /^\d+$/.test(name));
  const parts = await Promise.all(
    names.map(async (name) => {
      const [info, md5, ...sums] = await Promise.all([
        stat(path.join(folder, name)),
        readFile(path.join(folder, `${name}.md5`), 'utf8').catch(() => undefined),
        ...CHECKSUM_NAMES.map((sum) =>
          readFile(path.join(folder, `${name}.${sum}`), 'utf8').catch(() => undefined),
        ),
      ]);
      const checksums = Object.fromEntries(
        CHECKSUM_NAMES.flatMap((sum, i) => (sums[i] ? [[sum, sums[i]]] : [])),
      );
      // A part still being written has no digest yet: it is not there.
      return md5 === undefined
        ? undefined
        : {
            number: Number(name),
            size: info.size,
            etag: `"${md5}"`,
            modified: info.mtime,
            checksums,
          };
    }),
  );
  return parts
    .filter((part): part is StoredPart => part !== undefined)
    .sort((a, b) => a.number - b.number);
}

/** ListParts, paged as S3 pages it. */
async function listParts(folder: string, key: string, uploadId: string, query: URLSearchParams) {
  const marker = Number(query.get('part-number-marker') ?? 0) || 0;
  const max = Math.min(1000, Math.max(0, Number(query.get('max-parts') ?? 1000) || 1000));
  const after = (await storedParts(folder)).filter((part) => part.number > marker);
  const page = after.slice(0, max);
  const next = page.at(-1)?.number ?? 0;
  const parts = page
    .map(
      (part) =>
        `<Part><PartNumber>${part.number}</PartNumber><LastModified>${part.modified.toISOString()}</LastModified>` +
        `<ETag>${escape(part.etag)}</ETag><Size>${part.size}</Size>` +
        Object.entries(part.checksums)
          .map(([sum, value]) => `<Checksum${sum}>${escape(value)}</Checksum${sum}>`)
          .join('') +
        '</Part>',
    )
    .join('');
  return {
    status: 200,
    xml:
      '<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Bucket>${escape(bucket)}</Bucket><Key>${escape(key)}</Key><UploadId>${escape(uploadId)}</UploadId>` +
      `<PartNumberMarker>${marker}</PartNumberMarker><NextPartNumberMarker>${next}</NextPartNumberMarker>` +
      `<MaxParts>${max}</MaxParts><IsTruncated>${after.length > page.length}</IsTruncated>${parts}` +
      '<StorageClass>STANDARD</StorageClass></ListPartsResult>',
  };
}

/**
 * CompleteMultipartUpload's checks, in S3's order: a refusal, or what s3rver may complete
 * (with the object's checksum when the upload has an algorithm).
 */
async function checkCompletion(
  folder: string,
  uploadId: string,
  body: string,
): Promise<Reply | { checksum?: { algorithm: ChecksumName; value: string } }> {
  const algorithm = await algorithmOf(folder);
  const listed = [...body.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map(([, part]) => ({
    number: Number(/<PartNumber>\s*(\d+)\s*<\/PartNumber>/.exec(part ?? '')?.[1]),
    etag: (/<ETag>([\s\S]*?)<\/ETag>/.exec(part ?? '')?.[1] ?? '')
      .replace(/&quot;|&#34;/g, '"')
      .replaceAll('"', ''),
    checksum: algorithm
      ? new RegExp(`<Checksum${algorithm}>([^<]*)</Checksum${algorithm}>`).exec(part ?? '')?.[1]
      : undefined,
  }));
  if (listed.length === 0 || listed.some((part) => !Number.isInteger(part.number))) {
    return error(
      400,
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  }
  if (listed.some((part, i) => i > 0 && part.number <= listed[i - 1]!.number)) {
    return error(
      400,
      'InvalidPartOrder',
      'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
      { UploadId: uploadId },
    );
  }
  const stored = new Map((await storedParts(folder)).map((part) => [part.number, part]));
  // Every part is looked for first; sizes are checked once all are there.
  for (const part of listed) {
    const held = stored.get(part.number);
    const checksumDiffers = algorithm && held?.checksums[algorithm] !== part.checksum;
    if (!held || held.etag.replaceAll('"', '') !== part.etag || checksumDiffers) {
      return error(
        400,
        'InvalidPart',
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
        { UploadId: uploadId, PartNumber: String(part.number), ETag: part.etag },
      );
    }
  }
  for (const part of listed.slice(0, -1)) {
    const size = stored.get(part.number)!.size;
    if (size < MIN_PART_BYTES) {
      return error(
        400,
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed size',
        {
          ProposedSize: String(size),
          MinSizeAllowed: String(MIN_PART_BYTES),
          PartNumber: String(part.number),
          ETag: part.etag,
        },
      );
    }
  }
  if (!algorithm) return {};
  const sums = listed.map((part) => part.checksum ?? '');
  return { checksum: { algorithm, value: await compositeChecksum(algorithm, sums) } };
}

/** The emulator's credentials (stack-plugin.mts gives them to the functions): id -> secret. */
const SECRETS: Readonly<Record<string, string>> = { S3RVER: 'S3RVER' };
const MAX_EXPIRES_SECONDS = 604_800;
const presignerConfig = new S3Client({
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  forcePathStyle: true,
}).config;

const queryAuthError = () =>
  error(
    400,
    'AuthorizationQueryParametersError',
    'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
  );

/** A presigned request's refusal, as S3 words it; undefined when it is signed right. */
async function checkPresigned(request: IncomingMessage, url: URL): Promise<Reply | undefined> {
  const query = Object.fromEntries(url.searchParams);
  if (query['X-Amz-Algorithm'] === undefined) return undefined;
  // The presigner adds X-Amz-Content-Sha256 itself, and signs all but the signature.
  const { 'X-Amz-Signature': provided, ...rest } = query;
  delete rest['X-Amz-Content-Sha256'];
  const [keyId = '', day = '', region = '', service = '', terminal] = (
    query['X-Amz-Credential'] ?? ''
  ).split('/');
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(query['X-Amz-Date'] ?? '');
  const expires = Number(query['X-Amz-Expires']);
  const signed = (query['X-Amz-SignedHeaders'] ?? '').split(';');
  if (
    query['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256' ||
    !provided ||
    !date ||
    terminal !== 'aws4_request' ||
    !signed.includes('host') ||
    !Number.isInteger(expires)
  ) {
    return queryAuthError();
  }
  const secret = SECRETS[keyId];
  if (secret === undefined) {
    return error(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      { AWSAccessKeyId: keyId },
    );
  }
  if (expires < 1 || expires > MAX_EXPIRES_SECONDS) {
    return error(
      400,
      'AuthorizationQueryParametersError',
      'X-Amz-Expires must be less than a week (in seconds) that is 604800',
    );
  }
  const [, year, month, dayOfMonth, hour, minute, second] = date;
  const signingDate = new Date(`${year}-${month}-${dayOfMonth}T${hour}:${minute}:${second}Z`);
  const expiry = new Date(signingDate.getTime() + expires * 1000);
  if (Date.now() > expiry.getTime()) {
    return error(403, 'AccessDenied', 'Request has expired', {
      'X-Amz-Expires': String(expires),
      Expires: expiry.toISOString(),
      ServerTime: new Date().toISOString(),
    });
  }
  const unsigned = Object.keys(request.headers).filter(
    (name) => name.startsWith('x-amz-') && !signed.includes(name),
  );
  if (unsigned.length > 0) {
    return error(
      403,
      'AccessDenied',
      'There were headers present in the request which were not signed',
      {
        HeadersNotSigned: unsigned.join(', '),
      },
    );
  }
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(',') : (value ?? '');
  };
  const presigner = new S3RequestPresigner({
    ...presignerConfig,
    credentials: { accessKeyId: keyId, secretAccessKey: secret },
    region: () => Promise.resolve(region),
    service,
  } as ConstructorParameters<typeof S3RequestPresigner>[0]);
  const again = await presigner.presign(
    {
      method: request.method ?? 'GET',
      protocol: 'http:',
      hostname: '127.0.0.1',
      path: url.pathname,
      query: rest,
      headers: Object.fromEntries(signed.map((name) => [name, header(name)])),
    } as Parameters<S3RequestPresigner['presign']>[0],
    {
      signingDate,
      expiresIn: expires,
      signableHeaders: new Set(signed),
      unhoistableHeaders: new Set(signed.filter((name) => name.startsWith('x-amz-'))),
    },
  );
  const expected = Buffer.from(String(again.query?.['X-Amz-Signature'] ?? ''));
  const given = Buffer.from(provided);
  if (
    day !== signingDate.toISOString().slice(0, 10).replaceAll('-', '') ||
    expected.length !== given.length ||
    !timingSafeEqual(expected, given)
  ) {
    return error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
  return undefined;
}

function send(response: ServerResponse, reply: Reply): void {
  const body = reply.xml ? `<?xml version="1.0" encoding="UTF-8"?>\n${reply.xml}` : '';
  response.writeHead(reply.status, {
    ...(body && { 'content-type': 'application/xml' }),
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': `emulator-${Date.now()}`,
  });
  response.end(body);
}

const s3rver = server.callback();

/**
 * The request, to s3rver: as it came, or with the body this layer read (a stream of it in the
 * request's place, since s3rver reads the body from the request).
 */
function pass(
  request: IncomingMessage,
  response: ServerResponse,
  body?: Buffer,
  extraHeaders: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(extraHeaders)) response.setHeader(name, value);
  if (!body) {
    s3rver(request, response);
    return;
  }
  const replay = Object.assign(Readable.from([body]), {
    headers: { ...request.headers, 'content-length': String(body.length) },
    rawHeaders: request.rawHeaders,
    method: request.method,
    url: request.url,
    httpVersion: request.httpVersion,
    httpVersionMajor: request.httpVersionMajor,
    httpVersionMinor: request.httpVersionMinor,
    socket: request.socket,
    connection: request.socket,
  });
  s3rver(replay as unknown as IncomingMessage, response);
}

/** UploadPart: a part sent with a checksum is stored only if its bytes have it. */
async function uploadPart(
  request: IncomingMessage,
  response: ServerResponse,
  folder: string,
  part: number,
): Promise<void> {
  const sent = CHECKSUM_NAMES.filter((sum) => request.headers[CHECKSUMS[sum].header] !== undefined);
  const algorithm = await algorithmOf(folder);
  if (algorithm && !sent.includes(algorithm)) {
    request.resume();
    send(
      response,
      error(
        400,
        'InvalidRequest',
        `The upload was created using a ${algorithm.toLowerCase()} checksum. The part must be uploaded with one.`,
      ),
    );
    return;
  }
  // The part replaces any earlier one, and its checksums; a refused one leaves both.
  const forget = () =>
    Promise.all(
      CHECKSUM_NAMES.map((sum) => rm(path.join(folder, `${part}.${sum}`), { force: true })),
    );
  if (sent.length === 0) {
    await forget();
    pass(request, response);
    return;
  }
  const body = await readBody(request);
  const echoed: Record<string, string> = {};
  for (const sum of sent) {
    const { header, bytes, digest } = CHECKSUMS[sum];
    const given = String(request.headers[header]);
    if (!isDigest(given, bytes)) {
      send(response, error(400, 'InvalidRequest', `Value for ${header} header is invalid.`));
      return;
    }
    if ((await digest(body)) !== given) {
      const name = sum === 'SHA256' ? 'SHA256' : 'CRC32C';
      send(
        response,
        error(400, 'BadDigest', `The ${name} you specified did not match the calculated checksum.`),
      );
      return;
    }
    echoed[header] = given;
  }
  await forget();
  await Promise.all(
    sent.map((sum) =>
      writeFile(path.join(folder, `${part}.${sum}`), echoed[CHECKSUMS[sum].header]!),
    ),
  );
  pass(request, response, body, echoed);
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const refused = request.method === 'OPTIONS' ? undefined : await checkPresigned(request, url);
  if (refused) {
    request.resume();
    send(response, refused);
    return;
  }
  const uploadId = url.searchParams.get('uploadId');
  const [bucketName = '', ...keyParts] = url.pathname.slice(1).split('/');
  if (request.method === 'POST' && url.searchParams.has('uploads')) {
    keepAlgorithm(
      request,
      response,
      server.store.getResourcePath(decodeURIComponent(bucketName), undefined, 'uploads'),
    );
  }
  if (uploadId === null || keyParts.length === 0 || request.method === 'OPTIONS') {
    pass(request, response);
    return;
  }
  const key = decodeURIComponent(keyParts.join('/'));
  const folder = await openUpload(decodeURIComponent(bucketName), key, uploadId);
  if (!folder) {
    request.resume();
    send(response, noSuchUpload(uploadId));
    return;
  }
  switch (request.method) {
    case 'GET':
      send(response, await listParts(folder, key, uploadId, url.searchParams));
      return;
    case 'DELETE':
      await rm(folder, { recursive: true, force: true });
      send(response, { status: 204 });
      return;
    case 'PUT': {
      const part = Number(url.searchParams.get('partNumber'));
      if (!Number.isInteger(part) || part < 1 || part > MAX_PART_NUMBER) {
        request.resume();
        send(
          response,
          error(
            400,
            'InvalidArgument',
            `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
          ),
        );
        return;
      }
      await uploadPart(request, response, folder, part);
      return;
    }
    case 'POST': {
      const body = await readBody(request);
      const checked = await checkCompletion(folder, uploadId, body.toString('utf8'));
      if ('status' in checked) {
        send(response, checked);
        return;
      }
      if (checked.checksum)
        addChecksum(response, checked.checksum.algorithm, checked.checksum.value);
      pass(request, response, body);
      return;
    }
    default:
      pass(request, response);
  }
}

const front = http.createServer((request, response) => {
  handle(request, response).catch((failure: unknown) => {
    if (!response.headersSent) send(response, error(500, 'InternalError', String(failure)));
    else response.destroy();
  });
});

function stop(): void {
  front.close(() => process.exit(0));
  front.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', () => undefined); // Ctrl-C reaches the whole group: the parent decides
process.on('disconnect', stop);

await server.configureBuckets();
front.once('error', (failure) => {
  process.stderr.write(`S3 emulator: ${String(failure)}\n`);
  process.exit(1);
});
front.listen(port, '127.0.0.1', () => process.send?.({ type: 'ready' }));
