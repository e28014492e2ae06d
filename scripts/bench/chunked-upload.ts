/**
 * npm run bench:chunked — chunked upload throughput and assembly memory, on a local stack of
 * its own (free ports, throw-away data):
 *
 * 1. 100 MiB in 4 MiB chunks, 4 in flight, through the offline API until downloadable, next
 *    to an S3 multipart upload of the same bytes (8 MiB parts, 4 in flight) to the same
 *    s3rver, in the same run: median, min and max of 3 rounds, and the ratio of medians.
 * 2. A 200 MiB upload assembled by the assembleUpload handler in a process of its own: its
 *    peak RSS next to the file size.
 *
 * Figures go to stdout as a Markdown table and to bench/results/chunked-upload.json.
 */
import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startLocalStack, stackEnvironment, stopLocalStack } from '../local/stack-process';
import { report, round, runHandlerAlone, stats } from './common';

const MiB = 1024 * 1024;
const ROUNDS = 3;

async function main(): Promise<void> {
  const stack = await startLocalStack();
  try {
    Object.assign(process.env, stackEnvironment(stack.info, stack.dataDir));
    // Imported once the environment points at this stack.
    const { call, filesUrl, multipart, sha256 } = await import('../../tests/helpers/api');
    const { sendChunks, splitChunks } = await import('../../tests/helpers/chunks');
    const { bearer, tokenFor } = await import('../../tests/helpers/principals');
    const { inParallel } = await import('../../lib/parallel');

    const company = 'bench';
    const token = await tokenFor({ company, user: 'bench' });
    const s3 = new S3Client({
      endpoint: stack.info.s3Endpoint,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });

    async function rawMultipart(bytes: Buffer, key: string): Promise<void> {
      const Bucket = stack.info.bucket;
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key }));
      const parts = splitChunks(bytes, 8 * MiB);
      const uploaded = await inParallel(parts, 4, async (part, index) => {
        const { ETag } = await s3.send(
          new UploadPartCommand({ Bucket, Key: key, UploadId, PartNumber: index + 1, Body: part }),
        );
        return { ETag, PartNumber: index + 1 };
      });
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: uploaded },
        }),
      );
    }

    async function createEmpty(): Promise<string> {
      const created = await call<{ resource: { id: string } }>(filesUrl(company), {
        method: 'POST',
        headers: bearer(token),
      });
      return created.body.resource.id;
    }

    async function serviceUpload(bytes: Buffer, numbers?: number[]): Promise<string> {
      const fileId = await createEmpty();
      const chunks = splitChunks(bytes, 4 * MiB);
      const upload = {
        company,
        token,
        fileId,
        bytes,
        chunks,
        naming: 'twake' as const,
        filename: 'bench.bin',
      };
      await sendChunks(upload, numbers ?? chunks.map((_, i) => i + 1), 4);
      return fileId;
    }

    async function untilComplete(fileId: string): Promise<void> {
      for (;;) {
        const read = await call<{ resource: { upload_data: { status: string } } }>(
          filesUrl(company, `/${fileId}`),
          { headers: bearer(token) },
        );
        if (read.body.resource.upload_data.status === 'complete') return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    // 1. Throughput.
    const size = 100 * MiB;
    const bytes = randomBytes(size);
    const rawSeconds: number[] = [];
    const serviceSeconds: number[] = [];
    let verified = false;
    for (let i = 0; i < ROUNDS; i++) {
      let started = performance.now();
      await rawMultipart(bytes, `bench/raw-${i}`);
      rawSeconds.push((performance.now() - started) / 1000);

      started = performance.now();
      const fileId = await serviceUpload(bytes);
      await untilComplete(fileId);
      serviceSeconds.push((performance.now() - started) / 1000);
      if (!verified) {
        const link = await call<{ url: string }>(
          filesUrl(company, `/${fileId}/download?redirect=false`),
          { headers: bearer(token) },
        );
        const copy = Buffer.from(await (await fetch(link.body.url)).arrayBuffer());
        if (sha256(copy) !== sha256(bytes)) throw new Error('downloaded bytes differ');
        verified = true;
      }
    }
    const throughput = (seconds: number[]) => seconds.map((s) => size / MiB / s);
    const raw = throughput(rawSeconds);
    const service = throughput(serviceSeconds);

    // 2. Assembly memory, in the worst case: nothing uploaded ahead, every byte streamed
    // again. 1 MiB chunks with the last one first and no total_size: the upload expects
    // 4 MiB chunks, and pairs of 1 MiB are no S3 part. Every chunk goes through the API but
    // the one that completes, whose request hands the job to an assembler process of its own.
    const bigSize = 200 * MiB;
    const big = randomBytes(bigSize);
    const bigChunks = splitChunks(big, MiB);
    const total = bigChunks.length;
    const fileId = await createEmpty();
    const bigUpload = {
      company,
      token,
      fileId,
      bytes: big,
      chunks: bigChunks,
      naming: 'twake' as const,
      filename: 'big.bin',
    };
    const sendBig = (n: number) =>
      call(filesUrl(company, `/${fileId}?chunk_number=${n}&total_chunks=${total}`), {
        method: 'POST',
        headers: bearer(token),
        body: multipart(bigChunks[n - 1] as Buffer, 'blob'),
      });
    await sendBig(total);
    await sendChunks(bigUpload, bigChunks.map((_, i) => i + 1).slice(0, -2), 4);
    const { services } = await import('../../lib/services/full');
    const { uploadToFile } = await import('../../lib/domain/files');
    const jobs: unknown[] = [];
    services.assemblies = { enqueue: async (job) => void jobs.push(job) };
    services.limits = { ...services.limits, syncAssemblyMaxBytes: 0 };
    await uploadToFile(services, {
      principal: { kind: 'user', userId: 'bench' },
      companyId: company,
      fileId,
      params: { chunkNumber: total - 1, totalChunks: total, thumbnailSync: false },
      data: { bytes: bigChunks[total - 2] as Buffer },
      budgetMs: 29_000,
    });
    if (jobs.length !== 1) throw new Error('the completing request did not hand off an assembly');
    // The handler as Lambda runs it, in a process of its own.
    const assembly = await runHandlerAlone('functions/async/assemble-upload.ts', jobs[0]);
    await untilComplete(fileId);

    const summary = (values: number[]) => stats(values, 1);
    const raw_s3_multipart_mib_s = summary(raw);
    const service_mib_s = summary(service);
    const ratio = round(service_mib_s.median / raw_s3_multipart_mib_s.median, 2);
    const peak = assembly.peakRssMiB;
    const show = (s: { median: number; min: number; max: number }) =>
      `${s.median} MiB/s (${s.min}-${s.max})`;
    await report(
      'chunked-upload',
      [
        '| case | baseline (same run) | service | ratio | target |',
        '|---|---|---|---|---|',
        `| chunked upload ${size / MiB} MiB, 4 MiB chunks, 4 in flight, to downloadable | S3 multipart ${show(raw_s3_multipart_mib_s)} | ${show(service_mib_s)} | ${ratio}x | >= 0.6x |`,
        `| streamed assembly of ${bigSize / MiB} MiB (nothing uploaded ahead) in its own process | file size ${bigSize / MiB} MiB; process after loading the handler ${assembly.rssAfterLoadMiB} MiB | peak RSS ${peak} MiB (+${round(peak - assembly.rssAfterLoadMiB, 1)} MiB for assembling) in ${round(assembly.seconds, 2)} s | ${round(peak / (bigSize / MiB), 2)}x of file | far below file size |`,
      ],
      {
        chunked_upload: {
          size_mib: size / MiB,
          rounds: ROUNDS,
          raw_s3_multipart_mib_s,
          service_mib_s,
          ratio,
          target_ratio: 0.6,
        },
        assembly_memory: {
          size_mib: bigSize / MiB,
          seconds: round(assembly.seconds, 2),
          rss_after_load_mib: assembly.rssAfterLoadMiB,
          peak_rss_mib: peak,
        },
      },
    );
  } finally {
    await stopLocalStack(stack);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
