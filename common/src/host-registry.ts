// A compute host's record in Redis: the agent registers its capacity and traits and keeps a
// heartbeat key alive with a TTL (a host whose key expired is down); the scheduler and the API
// read the records back. Usage counters in the same hash are written only by the placement
// Lua scripts (scheduler/src/placement.ts), never by registration.
import type { Redis } from 'ioredis';
import type { Logger } from './logger.js';
import { HOST_HEARTBEAT_INTERVAL_MS, HOST_HEARTBEAT_TTL_S, redisKeys } from './redis-keys.js';

/** What a compute agent registers about its host. */
export interface HostSpec {
  name: string;
  /** host:port of the agent's Compute gRPC server. */
  address: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  diskAllocationRatio: number;
  hypervisorType: string;
  hypervisorVersion: string;
  architecture: string;
  availabilityZone: string;
  enabled: boolean;
  disabledReason?: string;
}

export interface HostUsage {
  vcpus: number;
  ramMb: number;
  diskGb: number;
}

/** A host as read back: its record, what its allocations use, and whether its heartbeat is alive. */
export interface HostState extends HostSpec {
  used: HostUsage;
  up: boolean;
}

/** Hash field names, shared with the placement Lua scripts. */
export const HOST_FIELDS = {
  usedVcpus: 'used_vcpus',
  usedRamMb: 'used_ram_mb',
  usedDiskGb: 'used_disk_gb',
} as const;

export const DEFAULT_ALLOCATION_RATIOS = { cpu: 16, ram: 1.5, disk: 1 } as const; // Nova's initial ratios

function toHash(h: HostSpec): Record<string, string> {
  return {
    name: h.name,
    address: h.address,
    vcpus: String(h.vcpus),
    ram_mb: String(h.ramMb),
    disk_gb: String(h.diskGb),
    cpu_allocation_ratio: String(h.cpuAllocationRatio),
    ram_allocation_ratio: String(h.ramAllocationRatio),
    disk_allocation_ratio: String(h.diskAllocationRatio),
    hypervisor_type: h.hypervisorType,
    hypervisor_version: h.hypervisorVersion,
    architecture: h.architecture,
    availability_zone: h.availabilityZone,
    enabled: h.enabled ? '1' : '0',
    disabled_reason: h.disabledReason ?? '',
  };
}

/** Parses a host hash (HGETALL); undefined when the hash is empty (host not registered). */
export function parseHost(name: string, hash: Record<string, string>, up: boolean): HostState | undefined {
  if (hash.vcpus === undefined) return undefined;
  const n = (k: string, def = 0) => (hash[k] === undefined || hash[k] === '' ? def : Number(hash[k]));
  return {
    name,
    address: hash.address ?? '',
    vcpus: n('vcpus'),
    ramMb: n('ram_mb'),
    diskGb: n('disk_gb'),
    cpuAllocationRatio: n('cpu_allocation_ratio', DEFAULT_ALLOCATION_RATIOS.cpu),
    ramAllocationRatio: n('ram_allocation_ratio', DEFAULT_ALLOCATION_RATIOS.ram),
    diskAllocationRatio: n('disk_allocation_ratio', DEFAULT_ALLOCATION_RATIOS.disk),
    hypervisorType: hash.hypervisor_type ?? '',
    hypervisorVersion: hash.hypervisor_version ?? '',
    architecture: hash.architecture ?? '',
    availabilityZone: hash.availability_zone ?? '',
    enabled: hash.enabled !== '0',
    disabledReason: hash.disabled_reason || undefined,
    used: { vcpus: n(HOST_FIELDS.usedVcpus), ramMb: n(HOST_FIELDS.usedRamMb), diskGb: n(HOST_FIELDS.usedDiskGb) },
    up,
  };
}

/** Writes the host's record (leaving its usage counters alone) and marks it up. */
export async function registerHost(redis: Redis, host: HostSpec, ttlS = HOST_HEARTBEAT_TTL_S): Promise<void> {
  await redis
    .multi()
    .hset(redisKeys.host(host.name), toHash(host))
    .sadd(redisKeys.hosts(), host.name)
    .set(redisKeys.hostAlive(host.name), String(Date.now()), 'EX', ttlS)
    .exec();
}

/** Refreshes the heartbeat; false when the record is gone (Redis lost it) and must be registered again. */
export async function heartbeatHost(redis: Redis, name: string, ttlS = HOST_HEARTBEAT_TTL_S): Promise<boolean> {
  const [, exists] = await Promise.all([
    redis.set(redisKeys.hostAlive(name), String(Date.now()), 'EX', ttlS),
    redis.exists(redisKeys.host(name)),
  ]);
  return exists === 1;
}

export async function setHostEnabled(redis: Redis, name: string, enabled: boolean, reason = ''): Promise<void> {
  await redis.hset(redisKeys.host(name), { enabled: enabled ? '1' : '0', disabled_reason: enabled ? '' : reason });
}

/** Marks the host down at once (a clean agent stop) instead of waiting for the TTL. */
export async function markHostDown(redis: Redis, name: string): Promise<void> {
  await redis.del(redisKeys.hostAlive(name));
}

export interface HeartbeatHandle {
  /** Stops beating; with markDown the host shows as down immediately. */
  stop(opts?: { markDown?: boolean }): Promise<void>;
}

/**
 * Registers the host and heartbeats it every intervalMs until stopped, re-registering when the
 * record disappeared. Redis errors are logged and retried on the next beat, not thrown.
 */
export async function startHostHeartbeat(
  redis: Redis,
  host: HostSpec,
  opts: { intervalMs?: number; ttlS?: number; logger?: Logger } = {},
): Promise<HeartbeatHandle> {
  const intervalMs = opts.intervalMs ?? HOST_HEARTBEAT_INTERVAL_MS;
  const ttlS = opts.ttlS ?? HOST_HEARTBEAT_TTL_S;
  await registerHost(redis, host, ttlS);
  let beating: Promise<void> = Promise.resolve();
  const beat = async () => {
    try {
      if (!(await heartbeatHost(redis, host.name, ttlS))) {
        opts.logger?.warn({ host: host.name }, 'host record missing in Redis; registering again');
        await registerHost(redis, host, ttlS);
      }
    } catch (err) {
      opts.logger?.warn({ err, host: host.name }, 'heartbeat failed');
    }
  };
  const timer = setInterval(() => {
    beating = beat();
  }, intervalMs);
  timer.unref();
  return {
    async stop(stopOpts = {}) {
      clearInterval(timer);
      await beating;
      if (stopOpts.markDown) await markHostDown(redis, host.name);
    },
  };
}

/** Every registered host with its usage and up/down state, in two round trips. */
export async function listHosts(redis: Redis): Promise<HostState[]> {
  const names = (await redis.smembers(redisKeys.hosts())).sort();
  if (names.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const name of names) pipeline.hgetall(redisKeys.host(name)).exists(redisKeys.hostAlive(name));
  const replies = (await pipeline.exec()) ?? [];
  const hosts: HostState[] = [];
  names.forEach((name, i) => {
    const [hashErr, hash] = replies[2 * i] ?? [];
    const [aliveErr, alive] = replies[2 * i + 1] ?? [];
    if (hashErr || aliveErr) throw hashErr ?? aliveErr;
    const host = parseHost(name, hash as Record<string, string>, alive === 1);
    if (host) hosts.push(host);
  });
  return hosts;
}

export async function getHost(redis: Redis, name: string): Promise<HostState | undefined> {
  const [hash, alive] = await Promise.all([redis.hgetall(redisKeys.host(name)), redis.exists(redisKeys.hostAlive(name))]);
  return parseHost(name, hash, alive === 1);
}
