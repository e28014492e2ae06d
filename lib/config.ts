/**
 * The only reader of process.env. Loaded once per cold start; a missing or malformed setting
 * fails the cold start instead of surfacing later as a confusing runtime error.
 */
export interface Config {
  readonly filesTable: string;
  readonly membersTable: string;
  /** The chunks and parts of uploads in progress, an item each. */
  readonly uploadsTable: string;
  readonly bucket: string;
  /**
   * Where the HS256 secret comes from: the value itself (the local stage and tests), or the
   * name of an SSM Parameter Store SecureString read at run time (deployed stages), so the
   * secret never sits in the template or the function's configuration.
   */
  readonly jwtSecret: { readonly value: string } | { readonly parameter: string };
  /** Set only against local emulators (s3rver, dynalite); absent on AWS. */
  readonly s3Endpoint: string | undefined;
  readonly dynamodbEndpoint: string | undefined;
  readonly lambdaEndpoint: string | undefined;
  readonly downloadUrlTtlSeconds: number;
  /** Lifetime of the signed read links in resources (read-links.ts). */
  readonly readLinkTtlSeconds: number;
  /**
   * Download and thumbnail routes answer with no token, by ids alone, as Twake's original
   * service did (its web client sends none there). Off unless a deployment opts in.
   */
  readonly tokenlessReads: boolean;
  readonly assembleFunctionName: string;
  readonly maxFileBytes: number;
  readonly maxDirectFileBytes: number;
  readonly partUrlTtlSeconds: number;
  readonly syncAssemblyMaxBytes: number;
  readonly assemblyLeaseSeconds: number;
  readonly uploadMaxAgeSeconds: number;
  readonly thumbnailMaxBytes: number;
  readonly thumbnailMaxPixels: number;
  readonly thumbnailTimeoutSeconds: number;
  /** Office documents get previews (LibreOffice where the thumbnailer runs). */
  readonly officePreviews: boolean;
  readonly abandonedUploadSeconds: number;
  readonly stuckAfterSeconds: number;
}

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Missing required environment variable ${name}`);
  return value;
}

function optional(env: Env, name: string): string | undefined {
  return env[name] || undefined;
}

function integer(env: Env, name: string, min: number, max: number): number {
  const raw = required(env, name);
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`Environment variable ${name} must be an integer in ${min}..${max}`);
  }
  return value;
}

/** HS256 with a short secret is brute-forceable offline from any token. */
export function checkJwtSecret(secret: string, source: string): string {
  if (Buffer.byteLength(secret) < 32) throw new Error(`${source} must be at least 32 bytes`);
  return secret;
}

function flag(env: Env, name: string): boolean {
  const value = required(env, name);
  if (value !== 'true' && value !== 'false') {
    throw new Error(`Environment variable ${name} must be true or false`);
  }
  return value === 'true';
}

function jwtSecretSource(env: Env): Config['jwtSecret'] {
  const value = optional(env, 'JWT_SECRET');
  const parameter = optional(env, 'JWT_SECRET_PARAMETER');
  if (Boolean(value) === Boolean(parameter)) {
    throw new Error('Set exactly one of JWT_SECRET and JWT_SECRET_PARAMETER');
  }
  return value ? { value: checkJwtSecret(value, 'JWT_SECRET') } : { parameter: parameter! };
}

export function loadConfig(env: Env): Config {
  const jwtSecret = jwtSecretSource(env);
  return Object.freeze({
    filesTable: required(env, 'FILES_TABLE'),
    membersTable: required(env, 'MEMBERS_TABLE'),
    uploadsTable: required(env, 'UPLOADS_TABLE'),
    bucket: required(env, 'BUCKET'),
    jwtSecret,
    s3Endpoint: optional(env, 'S3_ENDPOINT'),
    dynamodbEndpoint: optional(env, 'DYNAMODB_ENDPOINT'),
    lambdaEndpoint: optional(env, 'LAMBDA_ENDPOINT'),
    // Presigned URLs signed with a Lambda role's session die with it: keep them to minutes.
    downloadUrlTtlSeconds: integer(env, 'DOWNLOAD_URL_TTL_SECONDS', 10, 3600),
    readLinkTtlSeconds: integer(env, 'READ_LINK_TTL_SECONDS', 60, 7 * 86_400),
    tokenlessReads: flag(env, 'TOKENLESS_READS'),
    assembleFunctionName: required(env, 'ASSEMBLE_FUNCTION_NAME'),
    // S3 multipart: 10,000 parts of at most 5 GiB.
    maxFileBytes: integer(env, 'MAX_FILE_SIZE_BYTES', 1, 5 * 1024 ** 4),
    // Straight to S3 (no chunk crosses a Lambda): up to S3's largest object.
    maxDirectFileBytes: integer(env, 'MAX_DIRECT_FILE_SIZE_BYTES', 1, 5 * 1024 ** 4),
    // A part URL is signed just before its part is sent (and again when it expired).
    partUrlTtlSeconds: integer(env, 'PART_URL_TTL_SECONDS', 60, 3600),
    // Assembly within the completing request must fit API Gateway's 30 s.
    syncAssemblyMaxBytes: integer(env, 'SYNC_ASSEMBLY_MAX_BYTES', 0, 256 * 1024 ** 2),
    assemblyLeaseSeconds: integer(env, 'ASSEMBLY_LEASE_SECONDS', 30, 86_400),
    uploadMaxAgeSeconds: integer(env, 'UPLOAD_MAX_AGE_SECONDS', 60, 30 * 86_400),
    thumbnailMaxBytes: integer(env, 'THUMBNAIL_MAX_BYTES', 0, 1024 ** 3),
    thumbnailMaxPixels: integer(env, 'THUMBNAIL_MAX_PIXELS', 1, 1_000_000_000),
    thumbnailTimeoutSeconds: integer(env, 'THUMBNAIL_TIMEOUT_SECONDS', 1, 900),
    officePreviews: flag(env, 'OFFICE_PREVIEWS'),
    abandonedUploadSeconds: integer(env, 'ABANDONED_UPLOAD_SECONDS', 1, 365 * 86_400),
    stuckAfterSeconds: integer(env, 'STUCK_AFTER_SECONDS', 1, 86_400),
  });
}

export const config: Config = loadConfig(process.env);
