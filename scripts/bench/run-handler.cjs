// One Lambda handler alone in a fresh plain-Node process, as a Lambda container runs it:
// loads the esbuild bundle argv[2], calls its handler once with the event argv[3] (JSON) and
// prints its time and memory as JSON. Plain CommonJS, so that no TypeScript loader weighs on
// the figures. Used by the benchmarks to measure one function's peak memory.
const { readFileSync } = require('node:fs');

const { handler } = require(process.argv[2]);
const event = JSON.parse(process.argv[3]);
const context = {
  functionName: 'bench',
  awsRequestId: 'bench',
  getRemainingTimeInMillis: () => 900_000,
};
// VmHWM, not getrusage's maxrss: Linux carries the parent's RSS at fork into the child's
// maxrss, and the benchmark that starts this process holds its test files in memory.
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
