import type { AssemblyJob, Limits, Previews, Services } from '../domain/ports';
import { MemoryBlobs } from './blobs';
import { MemoryMembers, MemoryRecords } from './records';

export { MemoryBlobs } from './blobs';
export { MemoryMembers, MemoryRecords } from './records';

/** A clock the caller moves. */
export class Clock {
  #now: number;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now = (): number => this.#now;

  advance(ms: number): void {
    this.#now += ms;
  }
}

/**
 * Jobs handed to the asynchronous assembler, held until the caller delivers them: as Lambda
 * does, at least once (deliver one twice to see a duplicate).
 */
export class HeldJobs {
  readonly queued: AssemblyJob[] = [];

  enqueue(job: AssemblyJob): Promise<void> {
    this.queued.push(structuredClone(job));
    return Promise.resolve();
  }

  take(): AssemblyJob[] {
    return this.queued.splice(0);
  }
}

export interface MemoryWorld {
  services: Services;
  records: MemoryRecords;
  members: MemoryMembers;
  blobs: MemoryBlobs;
  jobs: HeldJobs;
  clock: Clock;
  warnings: { message: string; detail: Record<string, unknown> }[];
}

/** Every port in memory, with the service's default limits unless given. */
export function memoryWorld(
  options: { limits?: Partial<Limits>; previews?: Previews; clock?: Clock } = {},
): MemoryWorld {
  const records = new MemoryRecords();
  const members = new MemoryMembers(records);
  const blobs = new MemoryBlobs();
  const jobs = new HeldJobs();
  const clock = options.clock ?? new Clock();
  const warnings: MemoryWorld['warnings'] = [];
  const services: Services = {
    records,
    members,
    blobs,
    assemblies: jobs,
    previews: options.previews ?? { mayPreview: () => false, maxBytes: 50_000_000 },
    limits: {
      maxFileBytes: 5 * 1024 ** 3,
      syncAssemblyMaxBytes: 64 * 1024 ** 2,
      assemblyLeaseMs: 960_000,
      uploadMaxAgeMs: 72_000_000,
      maxDirectFileBytes: 5 * 1024 ** 4,
      partUrlTtlSeconds: 900,
      ...options.limits,
    },
    now: clock.now,
    warn: (message, detail) => warnings.push({ message, detail }),
    downloadUrlTtlSeconds: 300,
  };
  return { services, records, members, blobs, jobs, clock, warnings };
}
