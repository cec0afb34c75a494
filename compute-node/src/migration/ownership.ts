// The commit point of a migration, in Redis: the destination's commit flips the instance's owner
// from source to destination, and the source's resolveOutcome (when the destination's result
// never reached it) settles the outcome for good. Both go through one outcome key, set once:
// whichever runs first wins, so the guest never ends up running on both nodes, nor on neither.
import type { Redis } from 'ioredis';
import { RedisScript } from '@hypernova/common';
import { settleOutcome } from '@hypernova/cluster-state';

// KEYS: owner, outcome. ARGV: source, destination, ttl seconds.
const COMMIT = new RedisScript(`
local o = redis.call('GET', KEYS[2])
if o then return o end
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'not-owner' end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], 'committed', 'EX', tonumber(ARGV[3]))
return 'committed'
`);

export interface RedisOwnershipOptions {
  /** The key holding the node that runs the instance (common's redisKeys.instanceOwner). */
  ownerKey: string;
  /** A key private to this migration, holding its outcome once decided. */
  outcomeKey: string;
  source: string;
  destination: string;
  /** How long the outcome is kept. Default a day. */
  ttlSeconds?: number;
}

/** The two ownership steps of a migration. */
export interface Ownership {
  /** The destination's: flips the owner; throws when it may not (the source gave up, or is not the owner). */
  commit(): Promise<void>;
  /** The source's, when the destination's result is lost: the outcome, settled for good. */
  resolveOutcome(): Promise<'committed' | 'aborted'>;
}

/** commit for MigrationDestination and resolveOutcome for MigrationSource, backed by Redis. */
export function redisOwnership(redis: Redis, o: RedisOwnershipOptions): Ownership {
  const ttl = o.ttlSeconds ?? 86_400;
  return {
    async commit() {
      const r = await COMMIT.run(redis, [o.ownerKey, o.outcomeKey], [o.source, o.destination, ttl]);
      if (r !== 'committed')
        throw new Error(
          r === 'aborted' ? 'the source already gave up this migration' : `the instance is not owned by ${o.source}`,
        );
    },
    resolveOutcome: () => settleOutcome(redis, o.outcomeKey, ttl),
  };
}
