// Per-project quotas (Nova's os-quota-sets): defaults from the configuration, per-project
// overrides in Redis, usage counted from the project's instance records. A server create checks
// the quota and writes its records in one Lua script, so racing creates can never both pass
// (Nova counts, then rechecks after writing; a script needs no recheck).
import { RedisScript, redisKeys, type Redis } from '@hypernova/common';
import { INSTANCE_FIELDS, VmState, encodeInstance, type InstanceRecord } from '@hypernova/cluster-state';
import type { GatewayConfig } from '../config.js';
import { forbidden } from '../http/errors.js';
import type { Flavor } from './flavors.js';

/** The quota resources Nova shows and their fixed defaults where Hypernova has no setting. */
export const QUOTA_RESOURCES = [
  'instances',
  'cores',
  'ram',
  'metadata_items',
  'key_pairs',
  'server_groups',
  'server_group_members',
  'injected_files',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
] as const;
export type QuotaResource = (typeof QUOTA_RESOURCES)[number];
export type QuotaLimits = Record<QuotaResource, number>;

/** Network quotas Nova still shows below 2.36 (Neutron's business; never enforced here). */
export const NETWORK_QUOTAS = {
  fixed_ips: -1,
  floating_ips: -1,
  security_group_rules: -1,
  security_groups: -1,
} as const;

export interface QuotaUsage {
  instances: number;
  cores: number;
  ram: number;
}

export function usageOf(instances: readonly InstanceRecord[], except: ReadonlySet<string> = new Set()): QuotaUsage {
  const usage = { instances: 0, cores: 0, ram: 0 };
  for (const i of instances) {
    if (i.vmState === VmState.DELETED || except.has(i.uuid)) continue;
    usage.instances += 1;
    usage.cores += i.flavor.vcpus;
    usage.ram += i.flavor.ramMb;
  }
  return usage;
}

/** Throws Nova's 403 "Quota exceeded for ..." when `count` more servers of `flavor` do not fit. */
export function checkQuota(
  limits: Pick<QuotaLimits, 'instances' | 'cores' | 'ram'>,
  usage: QuotaUsage,
  flavor: Flavor,
  count: number,
): void {
  const want = { instances: count, cores: flavor.vcpus * count, ram: flavor.ramMb * count };
  const overs = (['instances', 'cores', 'ram'] as const).filter(
    (r) => limits[r] >= 0 && usage[r] + want[r] > limits[r],
  );
  if (overs.length === 0) return;
  const list = (f: (r: (typeof overs)[number]) => number) => overs.map(f).join(', ');
  throw forbidden(
    `Quota exceeded for ${overs.join(', ')}: Requested ${list((r) => want[r])}, but already used ` +
      `${list((r) => usage[r])} of ${list((r) => limits[r])} ${overs.join(', ')}`,
  );
}

export const overQuota = (what: string) => forbidden(`Quota exceeded, too many ${what}.`);

const F = INSTANCE_FIELDS;
// KEYS: 1 the project's instance set, 2 the set of all instances, 3.. the hashes of the new
// instances (max_count of them). ARGV: 1 instance key prefix, 2 JSON limits {instances, cores,
// ram, members}, 3 JSON cost of one {cores, ram}, 4 min_count, 5 server group uuid ('' none),
// 6 JSON [[uuid, field, value, ...], ...] of the records, 7 JSON fields to set when only one is
// created. Creates as many as fit between min and max: {n} or, when not even min fit, {0, used
// instances, cores, ram, group members}.
const CREATE_WITHIN_QUOTA = new RedisScript(`
local used = {instances = 0, cores = 0, ram = 0, members = 0}
for _, uuid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', ARGV[1] .. uuid, '${F.vmState}', '${F.flavor}', '${F.serverGroup}')
  if f[1] and f[1] ~= '${VmState.DELETED}' and f[2] then
    local flavor = cjson.decode(f[2])
    used.instances = used.instances + 1
    used.cores = used.cores + flavor.vcpus
    used.ram = used.ram + flavor.ramMb
    if ARGV[5] ~= '' and f[3] == ARGV[5] then used.members = used.members + 1 end
  end
end
local limit = cjson.decode(ARGV[2])
local cost = cjson.decode(ARGV[3])
local function ok(l, u, want) return l < 0 or u + want <= l end
local function fits(n)
  return ok(limit.instances, used.instances, n) and ok(limit.cores, used.cores, n * cost.cores)
    and ok(limit.ram, used.ram, n * cost.ram) and (ARGV[5] == '' or ok(limit.members, used.members, n))
end
local n = #KEYS - 2
local min = tonumber(ARGV[4])
while n >= min and not fits(n) do n = n - 1 end
if n < min then return {0, used.instances, used.cores, used.ram, used.members} end
local recs = cjson.decode(ARGV[6])
for i = 1, n do
  redis.call('HSET', KEYS[2 + i], unpack(recs[i], 2))
  redis.call('SADD', KEYS[1], recs[i][1])
  redis.call('SADD', KEYS[2], recs[i][1])
end
if n == 1 then
  for field, value in pairs(cjson.decode(ARGV[7])) do redis.call('HSET', KEYS[3], field, value) end
end
return {n}
`);

export class Quotas {
  constructor(
    private readonly redis: Redis,
    private readonly config: GatewayConfig,
  ) {}

  defaults(): QuotaLimits {
    const c = this.config;
    return {
      instances: c.quotaInstances,
      cores: c.quotaCores,
      ram: c.quotaRamMb,
      metadata_items: c.quotaMetadataItems,
      key_pairs: c.quotaKeyPairs,
      server_groups: c.quotaServerGroups,
      server_group_members: c.quotaServerGroupMembers,
      injected_files: 5,
      injected_file_content_bytes: 10240,
      injected_file_path_bytes: 255,
    };
  }

  /** The project's limits: its overrides over the defaults. */
  async limits(projectId: string): Promise<QuotaLimits> {
    const overrides = await this.redis.hgetall(redisKeys.quotas(projectId));
    const out = this.defaults();
    for (const r of QUOTA_RESOURCES) if (overrides[r] !== undefined) out[r] = Number(overrides[r]);
    return out;
  }

  async update(projectId: string, values: Partial<QuotaLimits>): Promise<void> {
    const entries = Object.entries(values).map(([k, v]) => [k, String(v)]);
    if (entries.length > 0) await this.redis.hset(redisKeys.quotas(projectId), Object.fromEntries(entries));
  }

  /** Back to the defaults. */
  async reset(projectId: string): Promise<void> {
    await this.redis.del(redisKeys.quotas(projectId));
  }

  /**
   * Writes as many of `records` (all of the caller's project, in launch order) as the quota
   * allows, at least `minCount`, atomically; returns the ones written. Throws Nova's 403 when
   * not even `minCount` fit. `lone` are the fields a lone instance gets (its name without the
   * "-N" suffix of a multi-create).
   */
  async createInstances(
    records: readonly InstanceRecord[],
    flavor: Flavor,
    minCount: number,
    lone: Partial<Record<string, string>>,
  ): Promise<InstanceRecord[]> {
    const first = records[0];
    const limits = await this.limits(first.projectId);
    const reply = (await CREATE_WITHIN_QUOTA.run(
      this.redis,
      [
        redisKeys.projectInstances(first.projectId),
        redisKeys.instances(),
        ...records.map((r) => redisKeys.instance(r.uuid)),
      ],
      [
        redisKeys.instance(''),
        JSON.stringify({
          instances: limits.instances,
          cores: limits.cores,
          ram: limits.ram,
          members: limits.server_group_members,
        }),
        JSON.stringify({ cores: flavor.vcpus, ram: flavor.ramMb }),
        minCount,
        first.serverGroup,
        JSON.stringify(records.map((r) => [r.uuid, ...Object.entries(encodeInstance(r)).flat()])),
        JSON.stringify(lone),
      ],
    )) as number[];
    const n = reply[0];
    if (n === 0) {
      const [, instances, cores, ram, members] = reply;
      checkQuota(limits, { instances, cores, ram }, flavor, minCount);
      if (first.serverGroup && limits.server_group_members >= 0 && members + minCount > limits.server_group_members) {
        throw overQuota('servers in group');
      }
      throw overQuota('servers'); // not reached: something was over
    }
    return records.slice(0, n).map((r, i) => (n === 1 && i === 0 ? { ...r, ...loneRecord(lone) } : r));
  }
}

/** The record fields of the hash fields `lone` sets. */
function loneRecord(lone: Partial<Record<string, string>>): Partial<InstanceRecord> {
  const byField = Object.fromEntries(Object.entries(INSTANCE_FIELDS).map(([k, f]) => [f, k]));
  return Object.fromEntries(Object.entries(lone).map(([f, v]) => [byField[f], v]));
}
