import type { FileRecord } from './file';
import { keys } from './ids';
import type { Services } from './ports';
import { dropUpload, finishDirect, purgeFile, resumeUpload } from './uploads';

/**
 * The sweeper repairs what requests and events left behind when they died or were abandoned
 * (ARCHITECTURE.md §4 step 6): S3 lifecycle rules expire the bytes under uploads/ and
 * incomplete multipart uploads; this expires the records, and moves stuck ones on.
 */
export interface SweepPolicy {
  /** An upload (or an empty create) older than this is abandoned. */
  abandonedAfterMs: number;
  /** A completion, thumbnailing or delete silent for this long has died. */
  stuckAfterMs: number;
}

export interface SweepReport {
  scanned: number;
  removed_files: number;
  cancelled_uploads: number;
  resumed_uploads: number;
  failed_thumbnails: number;
  finished_deletes: number;
  errors: number;
}

type Action = keyof Omit<SweepReport, 'scanned' | 'errors'>;

/** What, if anything, a record needs. */
function diagnose(record: FileRecord, policy: SweepPolicy, now: number): Action | undefined {
  const { upload, content } = record;
  const silentFor = now - record.updated_at;
  if (record.deleting) return silentFor > policy.stuckAfterMs ? 'finished_deletes' : undefined;
  if (upload) {
    // A direct upload takes parts until the client completes it.
    const receiving = upload.direct
      ? upload.state === 'receiving'
      : upload.chunk_count < upload.total_chunks;
    if (receiving) {
      if (now - upload.started_at <= policy.abandonedAfterMs) return undefined;
      return content ? 'cancelled_uploads' : 'removed_files';
    }
    const dead =
      upload.state === 'receiving'
        ? silentFor > policy.stuckAfterMs
        : (upload.claim_until ?? 0) < now;
    return dead ? 'resumed_uploads' : undefined;
  }
  if (!content)
    return now - record.created_at > policy.abandonedAfterMs ? 'removed_files' : undefined;
  const waitingSince = content.completed_at ?? record.updated_at;
  const leaseOver = (content.thumbnail_lease ?? 0) < now;
  const stuck = content.thumbnails_status === 'waiting' && leaseOver;
  return stuck && now - waitingSince > policy.stuckAfterMs ? 'failed_thumbnails' : undefined;
}

async function repair(s: Services, record: FileRecord, action: Action): Promise<void> {
  const { company_id: companyId, id: fileId } = record;
  switch (action) {
    case 'removed_files':
    case 'finished_deletes':
      await purgeFile(s, companyId, fileId);
      return;
    case 'cancelled_uploads':
      await dropUpload(s, record);
      return;
    case 'resumed_uploads':
      if (record.upload?.direct) await finishDirect(s, record, record.upload);
      else await resumeUpload(s, record);
      return;
    case 'failed_thumbnails': {
      const revision = record.content?.revision ?? '';
      await s.blobs.deletePrefix(keys.thumbnailsPrefix(companyId, fileId, revision));
      await s.records.finishThumbnails(
        { companyId, fileId, revision },
        { status: 'error', thumbnails: [] },
        s.now(),
      );
      return;
    }
  }
}

/** One pass over every record (or one company's). A failure on one record does not stop it. */
export async function sweep(
  s: Services,
  policy: SweepPolicy,
  companyId?: string,
): Promise<SweepReport> {
  const report: SweepReport = {
    scanned: 0,
    removed_files: 0,
    cancelled_uploads: 0,
    resumed_uploads: 0,
    failed_thumbnails: 0,
    finished_deletes: 0,
    errors: 0,
  };
  for await (const record of s.records.list(companyId)) {
    report.scanned++;
    const action = diagnose(record, policy, s.now());
    if (!action) continue;
    try {
      await repair(s, record, action);
      report[action]++;
    } catch (error) {
      report.errors++;
      s.warn('sweeper could not repair a record', { fileId: record.id, action, error });
    }
  }
  return report;
}
