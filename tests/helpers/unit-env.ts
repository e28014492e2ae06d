// Unit tests import modules that read lib/config.ts at load; they talk to no server.
Object.assign(process.env, {
  FILES_TABLE: 'unit-files',
  MEMBERS_TABLE: 'unit-members',
  BUCKET: 'unit-bucket',
  JWT_SECRET: 'unit-test-secret-unit-test-secret-0123',
  DOWNLOAD_URL_TTL_SECONDS: '300',
  ASSEMBLE_FUNCTION_NAME: 'unit-assemble',
  MAX_FILE_SIZE_BYTES: String(5 * 1024 ** 3),
  SYNC_ASSEMBLY_MAX_BYTES: String(64 * 1024 ** 2),
  ASSEMBLY_LEASE_SECONDS: '960',
  UPLOAD_MAX_AGE_SECONDS: '72000',
  THUMBNAIL_MAX_BYTES: String(50 * 1000 * 1000),
  THUMBNAIL_MAX_PIXELS: String(100_000_000),
  THUMBNAIL_TIMEOUT_SECONDS: '20',
  AWS_REGION: 'eu-west-1',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
});
