/**
 * Documents: an office file to thumbnails through LibreOffice (warm through the stack, cold in
 * a fresh thumbnailer process, with LibreOffice's own peak), and a hostile PDF whose content
 * stream inflates to 1 GiB (peak RSS and time of the thumbnailer alone).
 */
import { inflatingPdf, uploadWithThumbnails } from '../../../tests/helpers/api';
import { officeDocument } from '../../../tests/helpers/office';
import { type BenchContext, type CaseResult, round, show, stats } from '../common';
import { thumbnailerAlone } from './thumbnails';

type Resource = { id: string; metadata: { thumbnails_status: string }; thumbnails: unknown[] };

async function uploadSync(ctx: BenchContext, bytes: Buffer, name: string, mime: string) {
  const started = performance.now();
  const response = await uploadWithThumbnails<Resource>(ctx.company, ctx.token, {
    bytes,
    name,
    mime,
  });
  return { ms: performance.now() - started, resource: response.body.resource };
}

/**
 * A 5-page .doc (the page count of Twake's sample.doc, made by LibreOffice here) uploaded with
 * `thumbnail_sync=1`, median of 5 after one to warm up; then the thumbnailer alone in a fresh
 * process on it, with the peak of its process tree (LibreOffice included).
 */
export async function officePreview(ctx: BenchContext): Promise<CaseResult> {
  const ROUNDS = 5;
  const doc = await officeDocument('doc', 5);
  const mime = 'application/msword';
  await uploadSync(ctx, doc, 'report.doc', mime);
  const warm: number[] = [];
  let last: Resource | undefined;
  for (let i = 0; i < ROUNDS; i++) {
    const { ms, resource } = await uploadSync(ctx, doc, 'report.doc', mime);
    if (resource.thumbnails.length !== 5) throw new Error(`${resource.thumbnails.length} pages`);
    warm.push(ms);
    last = resource;
  }
  const cold = await thumbnailerAlone(ctx, last?.id ?? '', { children: true });
  if (cold.status !== 'done')
    throw new Error(`the measured thumbnailer ended ${String(cold.status)}`);
  const warmMs = stats(warm);
  return {
    case: 'office preview: a 5-page .doc to 5 thumbnails (LibreOffice)',
    service: `upload with thumbnail_sync, warm: ${show(warmMs, 'ms')}; the thumbnailer alone in a fresh process: ${round(cold.seconds, 2)} s, peak RSS ${cold.peakRssMiB} MiB (with LibreOffice: ${cold.treePeakRssMiB} MiB)`,
    baseline: 'the 10 s thumbnail_sync window',
    result: `${round(warmMs.median / 1000, 2)} s warm, ${round(cold.seconds, 2)} s cold`,
    target: 'within the 10 s window',
    met: warmMs.median < 10_000 && cold.seconds < 10,
    figures: {
      rounds: ROUNDS,
      warm_upload_sync_ms: warmMs,
      cold_thumbnailer_seconds: round(cold.seconds, 2),
      cold_peak_rss_mib: cold.peakRssMiB,
      cold_tree_peak_rss_mib: cold.treePeakRssMiB,
    },
  };
}

/**
 * The thumbnailer alone on the inflating PDF: the memory and time one such file takes, the
 * renderer's child process included (it is stopped once past 512 MiB).
 */
export async function hostilePdf(ctx: BenchContext): Promise<CaseResult> {
  const pdf = await inflatingPdf();
  const { resource } = await uploadSync(ctx, pdf, 'bomb.pdf', 'application/pdf');
  const run = await thumbnailerAlone(ctx, resource.id, { settleMs: 30_000, children: true });
  const inputMiB = round(pdf.length / 1024 ** 2, 2);
  const peak = run.treePeakRssMiB ?? run.peakRssMiB;
  return {
    case: 'hostile PDF: a content stream inflating to 1 GiB',
    service: `the thumbnailer alone: ended ${String(run.status)} in ${round(run.seconds, 2)} s, peak RSS ${run.peakRssMiB} MiB (its renderer child: ${peak} MiB)`,
    baseline: `file size ${inputMiB} MiB`,
    result: `${peak} MiB, ${String(run.status)}`,
    target: '<= 512 MiB, ends error',
    met: peak <= 512 && run.status === 'error',
    figures: {
      input_mib: inputMiB,
      status: run.status,
      seconds: round(run.seconds, 2),
      peak_rss_mib: run.peakRssMiB,
      tree_peak_rss_mib: peak,
      target_peak_mib: 512,
    },
  };
}
