/**
 * The assembler alone in a fresh process, as a Lambda container runs it: loads the bundled
 * assembleUpload handler (argv[2], built by esbuild as for Lambda), runs one job (argv[3],
 * JSON), and prints its memory as JSON. Used by chunked-upload.ts to measure the assembling
 * process's peak RSS.
 */
import { lambdaContext } from '../../tests/helpers/events';

async function main(): Promise<void> {
  const bundle = process.argv[2] ?? '';
  const job = JSON.parse(process.argv[3] ?? '{}') as unknown;
  const { handler } = require(bundle) as {
    handler: (job: unknown, context: unknown) => Promise<void>;
  };
  const loadedRss = process.memoryUsage().rss;
  const started = performance.now();
  await handler(job, lambdaContext('assembleUpload'));
  const seconds = (performance.now() - started) / 1000;
  const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
  process.stdout.write(
    JSON.stringify({
      seconds,
      rssAfterLoadMiB: mib(loadedRss),
      peakRssMiB: mib(process.resourceUsage().maxRSS * 1024),
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
