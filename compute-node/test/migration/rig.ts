// What the migration tests share: real NATS (and Redis) from the test harness, guests running in
// Machines in this process, a destination Machine for a source, and a migration between them.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { natsAuthOptions } from '@hypernova/common';
import { connect, type NatsConnection } from 'nats';
import { ensureBaremetal, ensureLinuxGuest } from '@hypernova/guest';
import { Machine, type BootImages, type VirtioDevice } from '@hypernova/hypervisor';
import {
  MigrationDestination,
  MigrationSource,
  type DestinationOptions,
  type DestinationResult,
  type SourceOptions,
  type SourceResult,
} from '../../src/migration/index.js';

export interface InfraServer {
  readonly url: string;
  restart(opts?: { crash?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

interface Harness {
  startNats(): Promise<InfraServer>;
  startRedis(): Promise<InfraServer>;
}

/**
 * The harness (@hypernova/test) is built after this package (its tests drive the compute agent),
 * so a project reference would be a cycle: it is loaded at run time, when everything is built.
 */
export async function harness(): Promise<Harness> {
  const name = '@hypernova/test';
  return (await import(name)) as Harness;
}

export async function natsConnection(url: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: url,
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
    pingInterval: 2000,
    ...natsAuthOptions(),
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A guest in a Machine of this process, with its console captured. */
export class Vm {
  log = '';
  readonly machine: Machine;
  readonly exited: Promise<unknown>;

  constructor(
    readonly images: BootImages,
    readonly memoryMiB: number,
    opts: { paused?: boolean; devices?: VirtioDevice[] } = {},
  ) {
    this.machine = new Machine(images, {
      config: { memoryMiB },
      devices: opts.devices,
      console: (b) => (this.log += Buffer.from(b).toString('latin1')),
    });
    if (opts.paused) this.machine.pause();
    this.exited = this.machine.run();
  }

  /** A paused machine of the same configuration (with its own devices, if any), to migrate into. */
  destination(devices?: VirtioDevice[]): Vm {
    return new Vm(this.images, this.memoryMiB, { paused: true, devices });
  }

  async waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
    const deadline = performance.now() + ms;
    for (;;) {
      const m = this.log.match(re);
      if (m) return m;
      if (performance.now() > deadline)
        throw new Error(`no ${re} after ${ms} ms; console tail:\n${this.log.slice(-1500)}`);
      await sleep(20);
    }
  }

  stop(): void {
    this.machine.powerOffNow();
  }
}

/** The bare-metal migration benchmark guest (guest/baremetal/bench/dirtier.c), ready to go. */
export async function dirtierVm(o: {
  memoryMiB: number;
  wssMiB: number;
  rateMiBs: number;
  beatMs?: number;
  devices?: VirtioDevice[];
}): Promise<Vm> {
  const kernel = readFileSync(join(await ensureBaremetal(), 'dirtier.elf'));
  const append = `hn.wss_mib=${o.wssMiB} hn.dirty_mib_s=${o.rateMiBs} hn.beat_ms=${o.beatMs ?? 100}`;
  const vm = new Vm({ kernel, bios: 'none', append }, o.memoryMiB, { devices: o.devices });
  await vm.waitFor(/DIRTIER-READY/, 60_000);
  return vm;
}

/** The Linux test guest booted to its first heartbeat. */
export async function linuxVm(append: string, memoryMiB = 64): Promise<Vm> {
  const { image } = await ensureLinuxGuest();
  const vm = new Vm({ kernel: readFileSync(image), bios: 'builtin', append: `console=ttyS0 ${append}` }, memoryMiB);
  await vm.waitFor(/heartbeat 1\b/, 120_000);
  return vm;
}

/** The numbers of the "heartbeat N" lines, in order. */
export function heartbeats(log: string): number[] {
  return [...log.matchAll(/heartbeat (\d+)/g)].map((m) => Number(m[1]));
}

/** Every value from the first to the last exactly once, in order. */
export function assertConsecutive(beats: number[]): void {
  for (let i = 1; i < beats.length; i++) {
    if (beats[i] !== beats[i - 1]! + 1)
      throw new Error(`heartbeats not consecutive at ${i}: ${beats.slice(Math.max(0, i - 3), i + 3).join(', ')}`);
  }
}

export interface Migration {
  source: MigrationSource;
  destination: MigrationDestination;
  /** Both sides' outcomes (a rejection of either is captured, not thrown). */
  result: Promise<{ source: SourceResult | Error; destination: DestinationResult | Error }>;
}

let counter = 0;

/**
 * Starts migrating `src` into `dst` over the two connections; the source starts once the
 * destination listens. Both get `key` (default: a random one), unless their options say otherwise.
 */
export async function startMigration(
  src: Vm,
  dst: Vm,
  ncSource: NatsConnection,
  ncDestination: NatsConnection,
  opts: { source?: Partial<SourceOptions>; destination?: Partial<DestinationOptions>; id?: string; key?: Buffer } = {},
): Promise<Migration> {
  const id = opts.id ?? `test-${process.pid}-${++counter}-${Date.now()}`;
  const key = opts.key ?? randomBytes(32);
  const destination = new MigrationDestination(dst.machine, ncDestination, { id, key, ...opts.destination });
  await destination.listen();
  const source = new MigrationSource(src.machine, ncSource, { id, key, verify: true, ...opts.source });
  const settle = <T>(p: Promise<T>): Promise<T | Error> =>
    p.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  const result = Promise.all([settle(source.run()), settle(destination.finished)]).then(([s, d]) => ({
    source: s,
    destination: d,
  }));
  return { source, destination, result };
}
