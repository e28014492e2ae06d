/**
 * Chunked uploads, by concern: intake (chunks coming in), parts (chunks into the S3
 * multipart upload), completion (claim and assemble), late retries (a chunk sent again after
 * completion), cleanup; and direct uploads (a client's parts straight to S3). The rules
 * they follow are the transitions of ../lifecycle.ts.
 */
export { declaredFor, firstChunkOfNewFile, hasChunk, receiveChunk, totalChunksOf } from './intake';
export { checkFileSize } from './limits';
export { resumeUpload, runAssembly } from './completion';
export { checkNoRetriedChunk, isLateRetry } from './late-retries';
export { discardUpload, dropRevision, dropUpload, purgeFile } from './cleanup';
export { createDirectUpload } from './direct-start';
export { listParts, signPart, signParts } from './direct-parts';
export { abortDirectUpload, completeDirectUpload, finishDirect } from './direct-completion';
