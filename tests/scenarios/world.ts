import { randomUUID } from 'node:crypto';
import type { FileRecord } from '../../lib/domain/file';
import type { Limits, Services } from '../../lib/domain/ports';
import type { Principal, Role } from '../../lib/domain/principal';
import { Clock, HeldJobs, memoryWorld } from '../../lib/memory';

/**
 * What a lifecycle scenario runs against: the domain's ports (in memory, or the adapters over
 * the emulators), a clock it moves, the assembler's jobs it delivers, and direct views of
 * what was stored.
 */
export interface World {
  name: string;
  /** A company id of its own for each scenario. */
  newCompany(): string;
  services: Services;
  clock: Clock;
  jobs: HeldJobs;
  addMember(companyId: string, principal: Principal, role: Role): Promise<void>;
  objectKeys(prefix: string): Promise<string[]>;
  /** Writes a record as it is, for states no request produces on cue. */
  putRecord(record: FileRecord): Promise<void>;
  /** A client's PUT of part `part` of a direct upload, to the URL the service signs: its ETag. */
  sendPart(
    upload: { key: string; uploadId: string },
    part: number,
    bytes: Uint8Array,
  ): Promise<string>;
}

export type MakeWorld = (options?: { limits?: Partial<Limits> }) => Promise<World>;

export const inMemory: MakeWorld = (options = {}) => {
  const world = memoryWorld({ limits: options.limits, clock: new Clock(Date.now()) });
  return Promise.resolve({
    name: 'memory',
    newCompany: () => randomUUID(),
    services: world.services,
    clock: world.clock,
    jobs: world.jobs,
    addMember: (companyId, principal, role) => {
      world.members.add(companyId, principal, role);
      return Promise.resolve();
    },
    objectKeys: (prefix) => Promise.resolve(world.blobs.keys(prefix)),
    putRecord: async (record) => {
      await world.records.create(record);
    },
    sendPart: (upload, part, bytes) =>
      Promise.resolve(world.blobs.sendPart(upload.uploadId, part, bytes)),
  });
};

/** The ports with one method of one failing once, as a storage or network fault would. */
export function failingOnce<T extends object>(port: T, method: keyof T & string): T {
  let failed = false;
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (property === method && !failed) {
        return () => {
          failed = true;
          return Promise.reject(new Error(`injected fault in ${method}`));
        };
      }
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
}

/** The port with one method replaced (the others bound to the port itself). */
export function replacing<T extends object, K extends keyof T & string>(
  port: T,
  method: K,
  replacement: T[K],
): T {
  return new Proxy(port, {
    get(target, property, receiver) {
      if (property === method) return replacement;
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}
