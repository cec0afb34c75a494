// os-keypairs: each user's named public keys in Redis (a hash per user). A create checks the
// name's uniqueness and the user's key_pairs quota and writes in one Lua script.
import { RedisScript, redisKeys, type Redis } from '@hypernova/common';
import { conflict } from '../http/errors.js';
import { overQuota } from './quota.js';
import type { KeyType } from './ssh-keys.js';

export interface Keypair {
  /** Nova's integer id. */
  id: number;
  name: string;
  userId: string;
  type: KeyType;
  publicKey: string;
  fingerprint: string;
  createdAt: string;
}

// KEYS: 1 the user's keypair hash. ARGV: 1 name, 2 JSON keypair, 3 quota limit (-1: none).
const CREATE = new RedisScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
local limit = tonumber(ARGV[3])
if limit >= 0 and redis.call('HLEN', KEYS[1]) >= limit then return 'quota' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
`);

export class KeypairStore {
  constructor(private readonly redis: Redis) {}

  /** Stores a new keypair: 409 when the user has one of that name, 403 over the user's quota. */
  async create(kp: Omit<Keypair, 'id'>, limit: number): Promise<Keypair> {
    const stored: Keypair = { ...kp, id: await this.redis.incr(redisKeys.seq('keypair')) };
    const outcome = await CREATE.run(
      this.redis,
      [redisKeys.keypairs(kp.userId)],
      [kp.name, JSON.stringify(stored), limit],
    );
    if (outcome === 'exists') throw conflict(`Key pair '${kp.name}' already exists.`);
    if (outcome === 'quota') throw overQuota('key pairs');
    return stored;
  }

  async get(userId: string, name: string): Promise<Keypair | undefined> {
    const raw = await this.redis.hget(redisKeys.keypairs(userId), name);
    return raw ? (JSON.parse(raw) as Keypair) : undefined;
  }

  /** The user's keypairs by name. */
  async list(userId: string): Promise<Keypair[]> {
    const all = Object.values(await this.redis.hgetall(redisKeys.keypairs(userId))).map(
      (raw) => JSON.parse(raw) as Keypair,
    );
    return all.sort((a, b) => a.name.localeCompare(b.name));
  }

  async count(userId: string): Promise<number> {
    return this.redis.hlen(redisKeys.keypairs(userId));
  }

  async delete(userId: string, name: string): Promise<boolean> {
    return (await this.redis.hdel(redisKeys.keypairs(userId), name)) === 1;
  }
}
