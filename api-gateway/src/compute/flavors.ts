// Flavors (Nova's instance types), kept in Redis. The defaults are sized for the tiny RV32 guests
// Hypernova runs (tens of MiB of RAM), seeded at start without touching flavors that exist.
// Names and ids are unique (one Lua script checks both and writes); extra specs change by
// compare-and-set, so concurrent admins never lose each other's keys.
import { RedisScript, changeJsonField, redisKeys, type Redis } from '@hypernova/common';
import { conflict } from '../http/errors.js';

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  ephemeralGb: number;
  swapMb: number;
  rxtxFactor: number;
  isPublic: boolean;
  disabled: boolean;
  description: string;
  extraSpecs: Record<string, string>;
}

const flavor = (id: string, name: string, vcpus: number, ramMb: number, diskGb: number): Flavor => ({
  id,
  name,
  vcpus,
  ramMb,
  diskGb,
  ephemeralGb: 0,
  swapMb: 0,
  rxtxFactor: 1,
  isPublic: true,
  disabled: false,
  description: '',
  extraSpecs: {},
});

/** devstack's ids and names, with RAM for RV32 guests (a Linux guest boots in 64 MiB). */
export const DEFAULT_FLAVORS: readonly Flavor[] = [
  flavor('1', 'm1.tiny', 1, 64, 1),
  flavor('2', 'm1.small', 1, 128, 1),
  flavor('3', 'm1.medium', 1, 256, 2),
  flavor('4', 'm1.large', 2, 512, 4),
];

// KEYS: 1 the flavor hash. ARGV: 1 id, 2 name, 3 JSON flavor. 'name' or 'id' when taken, else 'ok'.
const CREATE = new RedisScript(`
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(raw).name == ARGV[2] then return 'name' end
end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 0 then return 'id' end
return 'ok'
`);

export class FlavorStore {
  constructor(private readonly redis: Redis) {}

  /** Adds the default flavors that are missing (an operator's deletions of them do not come back only while Redis keeps the marker). */
  async seed(): Promise<void> {
    if (!(await this.redis.set(`${redisKeys.flavors()}:seeded`, '1', 'NX'))) return;
    for (const f of DEFAULT_FLAVORS) await this.redis.hsetnx(redisKeys.flavors(), f.id, JSON.stringify(f));
  }

  async get(id: string): Promise<Flavor | undefined> {
    const raw = await this.redis.hget(redisKeys.flavors(), id);
    return raw ? (JSON.parse(raw) as Flavor) : undefined;
  }

  /** Sorted by id as Nova sorts by flavorid (numeric ids in numeric order). */
  async list(): Promise<Flavor[]> {
    const all = (await this.redis.hvals(redisKeys.flavors())).map((raw) => JSON.parse(raw) as Flavor);
    return all.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  }

  async create(f: Flavor): Promise<Flavor> {
    const outcome = await CREATE.run(this.redis, [redisKeys.flavors()], [f.id, f.name, JSON.stringify(f)]);
    if (outcome === 'name') throw conflict(`Flavor with name ${f.name} already exists.`);
    if (outcome === 'id') throw conflict(`Flavor with ID ${f.id} already exists.`);
    return f;
  }

  /** Adds or replaces extra specs; undefined when the flavor is gone. */
  async setExtraSpecs(id: string, specs: Record<string, string>): Promise<Flavor | undefined> {
    return changeJsonField<Flavor>(this.redis, redisKeys.flavors(), id, (f) => ({
      ...f,
      extraSpecs: { ...f.extraSpecs, ...specs },
    }));
  }

  /** Removes one extra spec; false when the flavor or the key is absent. */
  async deleteExtraSpec(id: string, key: string): Promise<boolean> {
    let had = false;
    await changeJsonField<Flavor>(this.redis, redisKeys.flavors(), id, (f) => {
      had = Object.hasOwn(f.extraSpecs, key);
      const extraSpecs = { ...f.extraSpecs };
      delete extraSpecs[key];
      return { ...f, extraSpecs };
    });
    return had;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.redis.hdel(redisKeys.flavors(), id)) === 1;
  }
}
