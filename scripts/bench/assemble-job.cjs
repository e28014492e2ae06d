// The assembler alone in a fresh plain-Node process, as a Lambda container runs it: loads the
// bundled assembleUpload handler (argv[2], built by esbuild as for Lambda), runs one job
// (argv[3], JSON) and prints its memory as JSON. Plain CommonJS, so that no TypeScript loader
// weighs on the figures. Used by chunked-upload.ts.
const { readFileSync } = require('node:fs');

const bundle = process.argv[2];
const job = JSON.parse(process.argv[3]);
const { handler } = require(bundle);
const context = {
  functionName: 'assembleUpload',
  awsRequestId: 'bench',
  getRemainingTimeInMillis: () => 900_000,
};
// VmHWM, not getrusage's maxrss: Linux carries the parent's RSS at fork into the child's
// maxrss, and the benchmark that starts this process holds the test files in memory.
const highWaterMark = () =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const mib = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;

const loadedRss = process.memoryUsage().rss;
const started = performance.now();
handler(job, context).then(
  () => {
    process.stdout.write(
      JSON.stringify({
        seconds: (performance.now() - started) / 1000,
        rssAfterLoadMiB: mib(loadedRss),
        peakRssMiB: mib(highWaterMark()),
      }),
    );
  },
  (error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  },
);
