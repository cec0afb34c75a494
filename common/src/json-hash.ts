// Records kept as JSON in the fields of a Redis hash (images, flavors, keypairs, ...), changed
// atomically: a change is written only if the field still holds what was read, else it runs
// again on the fresh value (optimistic concurrency, one Lua compare-and-set per attempt).
import type { Redis } from 'ioredis';
import { RedisScript } from './redis-script.js';

// KEYS: 1 the hash. ARGV: 1 field, 2 the JSON the caller read, 3 the new JSON ('' deletes).
// Writes only when the field still holds what the caller read: 1, else 0.
const REPLACE_IF_UNCHANGED = new RedisScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`);

/**
 * Replaces the JSON record in `key`'s `field` by what `change` makes of it (null deletes it).
 * `change` may throw to refuse (a state check) and may run more than once. Returns the written
 * record (the old one when deleted); undefined when the field is absent.
 */
export async function changeJsonField<T>(
  redis: Redis,
  key: string,
  field: string,
  change: (current: T) => T | null,
): Promise<T | undefined> {
  for (;;) {
    const raw = await redis.hget(key, field);
    if (!raw) return undefined;
    const current = JSON.parse(raw) as T;
    const next = change(current);
    const json = next === null ? '' : JSON.stringify(next);
    if ((await REPLACE_IF_UNCHANGED.run(redis, [key], [field, raw, json])) === 1) return next === null ? current : next;
  }
}
