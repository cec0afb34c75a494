// Placement: resource claims in Redis. One Lua script per claim checks that the host is
// registered, enabled and up, that the request fits under floor(total * ratio) given the
// host's usage, and that hard server-group policies hold, then records the allocation, all
// atomically; so any number of scheduler replicas can claim concurrently without ever
// over-committing a host. Release is one script too and happens at most once per allocation.
import { randomUUID } from 'node:crypto';
import { ConflictError, RedisScript, redisKeys, type Redis } from '@hypernova/common';
import type { Resources } from './capacity.js';
import { hardPolicyName, type PlacementRequest } from './request.js';

// KEYS: 1 host hash, 2 host alive key, 3 allocation hash, 4 host allocations set, 5 group members hash
// ARGV: 1 consumer, 2 host, 3 vcpus, 4 ram_mb, 5 disk_gb, 6 allocation id, 7 group uuid,
//       8 hard group policy ('', 'affinity', 'anti-affinity'), 9 project, 10 now (ms)
const CLAIM = new RedisScript(`
local prev = redis.call('HMGET', KEYS[3], 'host', 'id')
if prev[1] then return {'exists', prev[1], prev[2]} end
local h = redis.call('HMGET', KEYS[1], 'vcpus', 'ram_mb', 'disk_gb',
  'cpu_allocation_ratio', 'ram_allocation_ratio', 'disk_allocation_ratio', 'enabled',
  'used_vcpus', 'used_ram_mb', 'used_disk_gb')
if not h[1] then return {'missing'} end
if h[7] == '0' then return {'disabled'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'down'} end
local used = {tonumber(h[8] or '0'), tonumber(h[9] or '0'), tonumber(h[10] or '0')}
local want = {tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])}
local default_ratio = {16, 1.5, 1}
for i = 1, 3 do
  local cap = math.floor(tonumber(h[i]) * tonumber(h[i + 3] or default_ratio[i]))
  if used[i] + want[i] > cap then
    return {'capacity', tostring(used[1]), tostring(used[2]), tostring(used[3])}
  end
end
if ARGV[8] ~= '' then
  -- anti-affinity: no member may be on this host; affinity: every member must be on it
  for _, member_host in ipairs(redis.call('HVALS', KEYS[5])) do
    if (ARGV[8] == 'anti-affinity') == (member_host == ARGV[2]) then return {'group'} end
  end
end
used[1] = redis.call('HINCRBY', KEYS[1], 'used_vcpus', want[1])
used[2] = redis.call('HINCRBY', KEYS[1], 'used_ram_mb', want[2])
used[3] = redis.call('HINCRBY', KEYS[1], 'used_disk_gb', want[3])
redis.call('HSET', KEYS[3], 'host', ARGV[2], 'id', ARGV[6], 'vcpus', ARGV[3], 'ram_mb', ARGV[4],
  'disk_gb', ARGV[5], 'group', ARGV[7], 'project', ARGV[9], 'created_at_ms', ARGV[10])
redis.call('SADD', KEYS[4], ARGV[1])
if ARGV[7] ~= '' then redis.call('HSET', KEYS[5], ARGV[1], ARGV[2]) end
return {'ok', tostring(used[1]), tostring(used[2]), tostring(used[3])}
`);

// KEYS: 1 allocation hash, 2 host hash, 3 host allocations set, 4 group members hash
// ARGV: 1 consumer, 2 host and 3 group the caller read from the allocation (keys are derived
// from them, so the script refuses when the allocation changed in between: 'stale', re-read).
const RELEASE = new RedisScript(`
local a = redis.call('HMGET', KEYS[1], 'host', 'vcpus', 'ram_mb', 'disk_gb', 'group')
if not a[1] then return {'none'} end
if a[1] ~= ARGV[2] or (a[5] or '') ~= ARGV[3] then return {'stale'} end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'used_vcpus', -tonumber(a[2]))
  redis.call('HINCRBY', KEYS[2], 'used_ram_mb', -tonumber(a[3]))
  redis.call('HINCRBY', KEYS[2], 'used_disk_gb', -tonumber(a[4]))
end
redis.call('SREM', KEYS[3], ARGV[1])
if ARGV[3] ~= '' then redis.call('HDEL', KEYS[4], ARGV[1]) end
redis.call('DEL', KEYS[1])
return {'released', a[1]}
`);

// KEYS: 1 from allocation, 2 to allocation, 3 host allocations set, 4 group members hash
// ARGV: 1 from consumer, 2 to consumer, 3 host and 4 group the caller read from the from allocation.
// The to consumer's allocation must be gone (released by the caller) so that no usage is lost.
const MOVE = new RedisScript(`
local a = redis.call('HMGET', KEYS[1], 'host', 'group')
if not a[1] then return {'none'} end
if a[1] ~= ARGV[3] or (a[2] or '') ~= ARGV[4] then return {'stale'} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'occupied'} end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
if ARGV[4] ~= '' then
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
end
return {'moved', a[1]}
`);

export type ClaimFailure = 'missing' | 'disabled' | 'down' | 'capacity' | 'group';

export type ClaimOutcome =
  | {
      ok: true;
      /** Where the allocation is: the asked host, or another one when `existing`. */
      host: string;
      allocationId: string;
      /** The consumer already held this allocation (a replayed request); nothing was claimed. */
      existing: boolean;
      /** The host's usage after the claim. */
      used?: Resources;
    }
  | { ok: false; reason: ClaimFailure; /** the host's usage, on 'capacity' */ used?: Resources };

export interface Allocation extends Resources {
  consumer: string;
  id: string;
  host: string;
  group: string;
  project: string;
}

const usage = (r: string[]): Resources => ({ vcpus: Number(r[1]), ramMb: Number(r[2]), diskGb: Number(r[3]) });

export class Placement {
  constructor(private readonly redis: Redis) {}

  /** Claims `req`'s resources on `host` for `consumer` (default: the instance). */
  async claim(host: string, req: PlacementRequest, consumer = req.instanceUuid): Promise<ClaimOutcome> {
    const group = req.group?.uuid ?? '';
    const allocationId = randomUUID();
    const reply = (await CLAIM.run(
      this.redis,
      [
        redisKeys.host(host),
        redisKeys.hostAlive(host),
        redisKeys.allocation(consumer),
        redisKeys.hostAllocations(host),
        redisKeys.groupMembers(group),
      ],
      [
        consumer,
        host,
        req.vcpus,
        req.ramMb,
        req.diskGb,
        allocationId,
        group,
        hardPolicyName(req),
        req.projectId,
        Date.now(),
      ],
    )) as string[];
    switch (reply[0]) {
      case 'ok':
        return { ok: true, host, allocationId, existing: false, used: usage(reply) };
      case 'exists':
        return { ok: true, host: reply[1] ?? '', allocationId: reply[2] ?? '', existing: true };
      case 'capacity':
        return { ok: false, reason: 'capacity', used: usage(reply) };
      default:
        return { ok: false, reason: reply[0] as ClaimFailure };
    }
  }

  /** Frees the consumer's allocation; false when it had none (already released). */
  async release(consumer: string): Promise<{ released: boolean; host?: string }> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const alloc = await this.getAllocation(consumer);
      if (!alloc) return { released: false };
      const reply = (await RELEASE.run(
        this.redis,
        [
          redisKeys.allocation(consumer),
          redisKeys.host(alloc.host),
          redisKeys.hostAllocations(alloc.host),
          redisKeys.groupMembers(alloc.group),
        ],
        [consumer, alloc.host, alloc.group],
      )) as string[];
      if (reply[0] === 'released') return { released: true, host: reply[1] };
      if (reply[0] === 'none') return { released: false };
      // 'stale': released and claimed again elsewhere meanwhile; read it again.
    }
    throw new ConflictError(`allocation of ${consumer} keeps changing; not released`);
  }

  /**
   * Hands `from`'s allocation to `to` (a completed live migration: the destination claim
   * becomes the instance's), releasing what `to` held first; false when `from` holds none.
   */
  async move(from: string, to: string): Promise<{ moved: boolean; host?: string }> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const alloc = await this.getAllocation(from);
      if (!alloc) return { moved: false };
      await this.release(to);
      const reply = (await MOVE.run(
        this.redis,
        [
          redisKeys.allocation(from),
          redisKeys.allocation(to),
          redisKeys.hostAllocations(alloc.host),
          redisKeys.groupMembers(alloc.group),
        ],
        [from, to, alloc.host, alloc.group],
      )) as string[];
      if (reply[0] === 'moved') return { moved: true, host: reply[1] };
      if (reply[0] === 'none') return { moved: false };
      // 'stale' or 'occupied': something changed in between; read again.
    }
    throw new ConflictError(`allocation of ${from} keeps changing; not moved to ${to}`);
  }

  async getAllocation(consumer: string): Promise<Allocation | undefined> {
    const a = await this.redis.hgetall(redisKeys.allocation(consumer));
    if (!a.host) return undefined;
    return {
      consumer,
      id: a.id ?? '',
      host: a.host,
      group: a.group ?? '',
      project: a.project ?? '',
      vcpus: Number(a.vcpus),
      ramMb: Number(a.ram_mb),
      diskGb: Number(a.disk_gb),
    };
  }

  /** host -> number of the group's members on it. */
  async groupHosts(group: string): Promise<Map<string, number>> {
    const hosts = new Map<string, number>();
    for (const h of await this.redis.hvals(redisKeys.groupMembers(group))) hosts.set(h, (hosts.get(h) ?? 0) + 1);
    return hosts;
  }
}
