/**
 * Progress of transfers, on stderr (stdout keeps the results, `--json` among them):
 * - on a terminal, one bar per file (cli-progress), with bytes, rate and ETA;
 * - otherwise (a pipe, a CI log), a plain line per file every few seconds, and when it ends.
 */
import cliProgress from 'cli-progress';

export interface Task {
  /** `bytes` more are done. */
  add(bytes: number): void;
  /** The transfer ended; `outcome` is shown in place of the rate (e.g. "done", "interrupted"). */
  end(outcome: string): void;
}

export interface Progress {
  /** A transfer of `total` bytes, of which `done` were already there (a resumed one). */
  start(name: string, total: number, done?: number): Task;
  /** Every bar drawn for the last time. */
  stop(): void;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(count: number): string {
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** Bytes per second over the last few seconds, the rate a user feels. */
class Rate {
  private readonly samples: { at: number; done: number }[] = [];

  constructor(done: number) {
    this.samples.push({ at: Date.now(), done });
  }

  record(done: number): number {
    const now = Date.now();
    this.samples.push({ at: now, done });
    while (this.samples.length > 2 && now - this.samples[0]!.at > 5000) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (now - first.at) / 1000;
    return seconds > 0 ? (done - first.done) / seconds : 0;
  }
}

function eta(rate: number, left: number): string {
  if (left <= 0) return '0s';
  if (rate <= 0) return '--';
  const seconds = Math.ceil(left / rate);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
}

/** The widest text beside the name and the bar: ` [] 100% | 99.9 MiB/99.9 MiB | 99.9 MiB/s | ETA 59m59s`. */
const TEXT_WIDTH = 58;

/**
 * Bars on a terminal: `name [█████░░░░░] 52% | 52.0 MiB/100.0 MiB | 41.2 MiB/s | ETA 1s`,
 * fitted to its width (a narrower bar, then a shortened name), so that rate and ETA show.
 */
export function terminalProgress(stream: NodeJS.WriteStream): Progress {
  const columns = stream.columns || 80;
  const barsize = columns >= 120 ? 30 : columns >= 100 ? 20 : 10;
  const nameMax = Math.max(8, Math.min(32, columns - 1 - TEXT_WIDTH - barsize));
  const bars = new cliProgress.MultiBar(
    {
      stream,
      // (cli-progress's own {eta} and {rate}-like tokens would shadow payload ones of that name)
      format: '{name} [{bar}] {percentage}% | {done}/{size} | {speed}{left}',
      barsize,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 10,
      // cli-progress only draws on a TTY by default; stream is one (see progressFor).
    },
    cliProgress.Presets.shades_classic,
  );
  const width = { name: 0 };
  return {
    start(name, total, done = 0) {
      width.name = Math.max(width.name, Math.min(name.length, nameMax));
      const label = name.length > nameMax ? `${name.slice(0, nameMax - 1)}…` : name;
      const rate = new Rate(done);
      let current = done;
      const payload = (speed: string, left?: string) => ({
        name: label.padEnd(width.name),
        done: bytes(current),
        size: bytes(total),
        speed,
        left: left === undefined ? '' : ` | ETA ${left}`,
      });
      const bar = bars.create(Math.max(total, 1), total === 0 ? 1 : done, payload('…', '--'));
      return {
        add(count) {
          current += count;
          const perSecond = rate.record(current);
          bar.update(
            total === 0 ? 1 : current,
            payload(`${bytes(perSecond)}/s`, eta(perSecond, total - current)),
          );
        },
        end(outcome) {
          bar.update(total === 0 ? 1 : current, payload(outcome));
        },
      };
    },
    stop() {
      bars.stop();
    },
  };
}

/** Plain lines: `upload big.bin: 52% 52.0 MiB/100.0 MiB 41.2 MiB/s ETA 1s`, every `everyMs`. */
export function lineProgress(
  stream: NodeJS.WritableStream,
  verb: string,
  everyMs: number,
): Progress {
  return {
    start(name, total, done = 0) {
      const rate = new Rate(done);
      let current = done;
      const line = (tail: string) => {
        const percent = total === 0 ? 100 : Math.floor((current / total) * 100);
        stream.write(`${verb} ${name}: ${percent}% ${bytes(current)}/${bytes(total)} ${tail}\n`);
      };
      line(done > 0 ? 'resumed' : 'started');
      // The first rate after a second's worth of samples, then every `everyMs`; the end
      // has its own line.
      let last = Date.now() + Math.max(0, 1000 - everyMs);
      return {
        add(count) {
          current += count;
          const perSecond = rate.record(current);
          if (Date.now() - last < everyMs || current >= total) return;
          last = Date.now();
          line(`${bytes(perSecond)}/s ETA ${eta(perSecond, total - current)}`);
        },
        end(outcome) {
          line(outcome);
        },
      };
    },
    stop() {},
  };
}

/** Bars when stderr is a terminal, lines otherwise; nothing with `quiet`. */
export function progressFor(verb: string, options: { quiet?: boolean }): Progress {
  if (options.quiet) return { start: () => ({ add() {}, end() {} }), stop() {} };
  const stream = process.stderr;
  if (stream.isTTY) return terminalProgress(stream);
  return lineProgress(stream, verb, Number(process.env['SERVERLESS_FILES_PROGRESS_MS'] ?? 2000));
}
