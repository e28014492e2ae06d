// The thumbnailer alone in a fresh plain-Node process, as a Lambda container runs it: loads
// the bundled makeThumbnails handler (argv[2]), handles one S3 event (argv[3], JSON) and
// prints its memory as JSON. Used by thumbnails.ts.
const { readFileSync } = require('node:fs');

const { handler } = require(process.argv[2]);
const event = JSON.parse(process.argv[3]);
const context = {
  functionName: 'makeThumbnails',
  awsRequestId: 'bench',
  getRemainingTimeInMillis: () => 60_000,
};
// VmHWM, not getrusage's maxrss: Linux carries the parent's RSS at fork into the child's.
const highWaterMark = () =>
  Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const mib = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;

const loadedRss = process.memoryUsage().rss;
const started = performance.now();
handler(event, context).then(
  () =>
    process.stdout.write(
      JSON.stringify({
        seconds: (performance.now() - started) / 1000,
        rssAfterLoadMiB: mib(loadedRss),
        peakRssMiB: mib(highWaterMark()),
      }),
    ),
  (error) => {
    process.stderr.write(`${error.stack}\n`);
    process.exit(1);
  },
);
