// Pools of values handed out once each, cluster-wide: a subnet's IPs, a network's MACs, the VXLAN
// VNIs. A pool is a Redis hash member -> owner; a member is taken with HSETNX (or, for the first
// free one in some ranges, one Lua script doing the same), so two gateways never hand out the
// same value.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisScript, redisKeys } from '@hypernova/common';

export const ipPool = (subnetId: string) => `subnet:${subnetId}:ips`;
export const macPool = (networkId: string) => `network:${networkId}:macs`;
export const VNI_POOL = 'vnis';

// KEYS: 1 the pool. ARGV: 1 owner, 2 'ipv4' (members are dotted quads) or 'int', then pairs of
// first, last (inclusive integer ranges). Takes the first free member: its name, or false.
const CLAIM_FIRST_FREE = new RedisScript(`
local function name(n)
  if ARGV[2] ~= 'ipv4' then return tostring(n) end
  return string.format('%d.%d.%d.%d', math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 256) % 256, n % 256)
end
for i = 3, #ARGV, 2 do
  for n = tonumber(ARGV[i]), tonumber(ARGV[i + 1]) do
    local member = name(n)
    if redis.call('HSETNX', KEYS[1], member, ARGV[1]) == 1 then return member end
  end
end
return false
`);

// KEYS: 1 the pool. ARGV: 1 member, 2 owner. Frees the member only if that owner holds it.
const RELEASE = new RedisScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
return redis.call('HDEL', KEYS[1], ARGV[1])
`);

/** Takes the first free member of `ranges` for `owner`; undefined when all are taken. */
export async function claimFirstFree(
  redis: Redis,
  pool: string,
  owner: string,
  ranges: readonly (readonly [number, number])[],
  format: 'ipv4' | 'int',
): Promise<string | undefined> {
  const args = [owner, format, ...ranges.flat()];
  const member = (await CLAIM_FIRST_FREE.run(redis, [redisKeys.netAllocations(pool)], args)) as string | null;
  return member ?? undefined;
}

/** Takes `member` for `owner`; false when someone holds it. */
export async function claim(redis: Redis, pool: string, member: string, owner: string): Promise<boolean> {
  return (await redis.hsetnx(redisKeys.netAllocations(pool), member, owner)) === 1;
}

/** Frees `member` if `owner` holds it. */
export async function release(redis: Redis, pool: string, member: string, owner: string): Promise<void> {
  await RELEASE.run(redis, [redisKeys.netAllocations(pool)], [member, owner]);
}

/** Forgets a whole pool (its subnet or network is gone). */
export async function dropPool(redis: Redis, pool: string): Promise<void> {
  await redis.del(redisKeys.netAllocations(pool));
}

/** A random MAC with OpenStack's base fa:16:3e, taken for `owner` on the network; undefined after 16 collisions. */
export async function claimRandomMac(redis: Redis, networkId: string, owner: string): Promise<string | undefined> {
  for (let attempt = 0; attempt < 16; attempt++) {
    const mac = ['fa', '16', '3e', ...[...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
    if (await claim(redis, macPool(networkId), mac, owner)) return mac;
  }
  return undefined;
}
