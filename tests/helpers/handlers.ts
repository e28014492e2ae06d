import { handler as createFile } from '../../functions/http/create-file';
import { handler as uploadToFile } from '../../functions/http/upload-to-file';
import { fileItem } from './aws';
import { httpEvent, invoke, octetStream, resourceOf, type HandlerResult } from './events';

/** Requests the integration tests make again and again, through the real handlers. */

/** A file created without data (declared values in `query`); its id. */
export async function createEmptyFile(
  companyId: string,
  token: string,
  query: Record<string, string> = {},
): Promise<string> {
  const created = await invoke(createFile, {
    ...httpEvent('create-file', { token, companyId, query }),
    body: undefined,
    headers: { authorization: `Bearer ${token}` },
  });
  return resourceOf(created).id;
}

/** Raw bytes into a file, with the given upload parameters. */
export function uploadBytes(
  companyId: string,
  fileId: string,
  token: string,
  query: Record<string, string>,
  bytes: Buffer,
): Promise<HandlerResult> {
  return invoke(
    uploadToFile,
    httpEvent('upload-to-file', { token, companyId, fileId, query, body: octetStream(bytes) }),
  );
}

export const chunkParams = (chunkNumber: number, totalChunks: number) => ({
  chunk_number: String(chunkNumber),
  total_chunks: String(totalChunks),
});

/**
 * The bytes of a file's current content, read straight from the emulator (s3rver checks no
 * signature), so that fault injection on the SDK clients never sees the read.
 */
export async function storedData(companyId: string, fileId: string): Promise<Buffer | undefined> {
  const revision = (await fileItem(companyId, fileId))?.['content']?.revision;
  if (!revision) return undefined;
  const key = `files/${companyId}/${fileId}/${revision}/data`;
  const response = await fetch(`${process.env['S3_ENDPOINT']}/${process.env['BUCKET']}/${key}`);
  return response.ok ? Buffer.from(await response.arrayBuffer()) : undefined;
}
