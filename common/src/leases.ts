// Leases in Redis: a key that names its holder for a limited time. A gateway holds one while it
// drives a live migration, and while it runs an instance's task: another gateway waits, or takes
// over once the lease lapses (its holder died without ending it).
import type { Redis } from 'ioredis';
import { RedisScript } from './redis-script.js';

export interface Lease {
  /** Unique per holder (a gateway process). */
  holder: string;
  ttlMs: number;
}

// KEYS: lease. ARGV: holder, ttl ms. Takes a free lease or extends the holder's own.
const HOLD = new RedisScript(`
local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return h and 1 or 2
`);

// KEYS: lease. ARGV: holder.
const DROP = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * `take` succeeds only on a lease nobody holds; `renew` extends the holder's own, or takes it if
 * nobody holds it. Answers whether `lease.holder` now holds it.
 */
export async function holdLease(redis: Redis, key: string, lease: Lease, how: 'take' | 'renew'): Promise<boolean> {
  const r = await HOLD.run(redis, [key], [lease.holder, lease.ttlMs]);
  return how === 'take' ? r === 2 : r !== 0;
}

/** Ends `holder`'s lease (a no-op when another holds it). */
export async function releaseLease(redis: Redis, key: string, holder: string): Promise<void> {
  await DROP.run(redis, [key], [holder]);
}

export interface LeaseTrouble {
  /** Another holder has it now (this one stopped renewing in time): renewal stops. */
  lost(): void;
  /**
   * A renewal failed (Redis unreachable; the next one tries again), or the release did (the
   * lease then lapses at its lifetime).
   */
  failed(err: unknown, op: 'renew' | 'release'): void;
}

/** Renews a lease just taken every third of its lifetime, until end() releases it. */
export function keepLease(
  redis: Redis,
  key: string,
  lease: Lease,
  trouble: LeaseTrouble,
): { end: () => Promise<void> } {
  const renew = () =>
    holdLease(redis, key, lease, 'renew').then(
      (held) => {
        if (held) return;
        clearInterval(timer);
        trouble.lost();
      },
      (err: unknown) => trouble.failed(err, 'renew'),
    );
  const timer = setInterval(renew, lease.ttlMs / 3);
  timer.unref();
  return {
    end: async () => {
      clearInterval(timer);
      await releaseLease(redis, key, lease.holder).catch((err: unknown) => trouble.failed(err, 'release'));
    },
  };
}
