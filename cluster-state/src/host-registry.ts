// A compute host's record in Redis: the agent registers its capacity and traits and keeps a
// heartbeat key alive with a TTL (a host whose key expired is down); the scheduler and the API
// read the records back. Usage counters in the same hash are written only by the placement
// Lua scripts (scheduler/src/placement.ts), never by registration.
import type { Redis } from 'ioredis';
import {
  HOST_HEARTBEAT_INTERVAL_MS,
  HOST_HEARTBEAT_TTL_S,
  RedisScript,
  redisKeys,
  type Logger,
} from '@hypernova/common';

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
  /** Heartbeat alive and not forced down. */
  up: boolean;
  /** An operator declared it down (Nova's forced_down), whatever its heartbeat says. */
  forcedDown?: boolean;
  /** Changes whenever the record is rewritten (registration, enable/disable); usage does not change it. */
  version: string;
}

/** The parts of a host that change all the time, read without the whole record. */
export interface HostStatus {
  version: string;
  used: HostUsage;
  enabled: boolean;
  up: boolean;
}

/** Hash field names, shared with the placement Lua scripts. */
export const HOST_FIELDS = {
  usedVcpus: 'used_vcpus',
  usedRamMb: 'used_ram_mb',
  usedDiskGb: 'used_disk_gb',
  enabled: 'enabled',
  forcedDown: 'forced_down',
  version: 'version',
} as const;

// Versions only need to differ between rewrites: time plus a per-process counter.
let versionSeq = 0;
const nextVersion = () => `${Date.now()}.${process.pid}.${++versionSeq}`;

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
    version: nextVersion(),
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
    up: up && hash[HOST_FIELDS.forcedDown] !== '1',
    forcedDown: hash[HOST_FIELDS.forcedDown] === '1',
    version: hash.version ?? '',
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
  await redis.hset(redisKeys.host(name), {
    enabled: enabled ? '1' : '0',
    disabled_reason: enabled ? '' : reason,
    version: nextVersion(),
  });
}

/**
 * Sets Nova's forced_down: a forced-down host counts as down (for the scheduler and the API)
 * while its heartbeat goes on; registration leaves the flag alone, so it holds until cleared.
 */
export async function setHostForcedDown(redis: Redis, name: string, forcedDown: boolean): Promise<void> {
  await redis.hset(redisKeys.host(name), { [HOST_FIELDS.forcedDown]: forcedDown ? '1' : '0', version: nextVersion() });
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
  return readHosts(redis, (await redis.smembers(redisKeys.hosts())).sort());
}

/** The named hosts' full records (skipping unregistered ones), in one round trip. */
export async function readHosts(redis: Redis, names: readonly string[]): Promise<HostState[]> {
  if (names.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const name of names) pipeline.hgetall(redisKeys.host(name)).exists(redisKeys.hostAlive(name));
  const replies = await execPipeline(pipeline);
  const hosts: HostState[] = [];
  names.forEach((name, i) => {
    const host = parseHost(name, replies[2 * i] as Record<string, string>, replies[2 * i + 1] === 1);
    if (host) hosts.push(host);
  });
  return hosts;
}

// Every registered host's status in one command: pipelining thousands of small reads costs the
// client far more (encoding, garbage) than Redis spends running them. The script derives the
// host keys from the names in the host set, which is fine on a single Redis (not a cluster).
// KEYS: 1 the host set. ARGV: 1 host key prefix, 2 alive key suffix, 3.. status fields.
const HOST_STATUSES = new RedisScript(`
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. name
  out[#out + 1] = name
  out[#out + 1] = redis.call('HMGET', key, unpack(ARGV, 3))
  out[#out + 1] = redis.call('EXISTS', key .. ARGV[2])
end
return out
`);

/** Every registered host's status (usage, enabled, up, record version), by name. */
export async function readHostStatuses(redis: Redis): Promise<Map<string, HostStatus>> {
  const f = HOST_FIELDS;
  const prefix = redisKeys.host('');
  const reply = (await HOST_STATUSES.run(
    redis,
    [redisKeys.hosts()],
    [
      prefix,
      redisKeys.hostAlive('').slice(prefix.length),
      f.version,
      f.usedVcpus,
      f.usedRamMb,
      f.usedDiskGb,
      f.enabled,
      'vcpus',
      f.forcedDown,
    ],
  )) as (string | (string | null)[] | number)[];
  const statuses = new Map<string, HostStatus>();
  for (let i = 0; i < reply.length; i += 3) {
    const [version, vcpus, ramMb, diskGb, enabled, total, forcedDown] = reply[i + 1] as (string | null)[];
    if (total === null) continue; // in the set but not registered (yet, or any more)
    statuses.set(reply[i] as string, {
      version: version ?? '',
      used: { vcpus: Number(vcpus ?? 0), ramMb: Number(ramMb ?? 0), diskGb: Number(diskGb ?? 0) },
      enabled: enabled !== '0',
      up: reply[i + 2] === 1 && forcedDown !== '1',
    });
  }
  return statuses;
}

async function execPipeline(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  return ((await pipeline.exec()) ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

export async function getHost(redis: Redis, name: string): Promise<HostState | undefined> {
  const [hash, alive] = await Promise.all([
    redis.hgetall(redisKeys.host(name)),
    redis.exists(redisKeys.hostAlive(name)),
  ]);
  return parseHost(name, hash, alive === 1);
}
