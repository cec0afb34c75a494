// A live migration's record in Redis (Nova's Migration object): created by the API when it
// accepts os-migrateLive, its status moved along by the API, its progress (Nova's memory_* and
// disk_* fields and our own) written by the source node as the migration goes. The gateway that
// drives a migration holds a lease on it, so that another can tell an abandoned one and take it over.
import type { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RedisScript, holdLease, redisKeys, releaseLease, type Lease } from '@hypernova/common';

/** Nova's migration statuses a live migration goes through. */
export type MigrationStatus = 'queued' | 'preparing' | 'running' | 'completed' | 'error' | 'cancelling' | 'cancelled';

/** Statuses of a migration still under way (Nova's in-progress ones). */
export const MIGRATION_IN_PROGRESS: readonly MigrationStatus[] = ['queued', 'preparing', 'running', 'cancelling'];

export interface MigrationProgressFields {
  memoryTotalBytes: number;
  memoryProcessedBytes: number;
  memoryRemainingBytes: number;
  diskTotalBytes: number;
  diskProcessedBytes: number;
  diskRemainingBytes: number;
  /** Pass over RAM (1 = the full first pass). */
  round: number;
  transferredBytes: number;
  dirtyRateBytesPerS: number;
  expectedDowntimeMs: number;
  /** Source pause to destination resume, once known. */
  downtimeMs: number;
}

export interface MigrationRecord extends MigrationProgressFields {
  /** Integer id (Nova's migration id). */
  id: number;
  uuid: string;
  instanceUuid: string;
  /** live-migration (the only kind here). */
  migrationType: string;
  status: MigrationStatus;
  sourceCompute: string;
  sourceNode: string;
  destCompute: string;
  destNode: string;
  /** The destination node's address. */
  destHost: string;
  blockMigration: boolean;
  /** Flavor ids (Nova's old/new_instance_type_id; the same for a live migration). */
  oldFlavorId: string;
  newFlavorId: string;
  projectId: string;
  userId: string;
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
  /** Why it failed, when it did. */
  error: string;
}

type Field = [string, 'str' | 'num' | 'bool'];
const FIELDS: { [K in keyof MigrationRecord]-?: Field } = {
  id: ['id', 'num'],
  uuid: ['uuid', 'str'],
  instanceUuid: ['instance_uuid', 'str'],
  migrationType: ['migration_type', 'str'],
  status: ['status', 'str'],
  sourceCompute: ['source_compute', 'str'],
  sourceNode: ['source_node', 'str'],
  destCompute: ['dest_compute', 'str'],
  destNode: ['dest_node', 'str'],
  destHost: ['dest_host', 'str'],
  blockMigration: ['block_migration', 'bool'],
  oldFlavorId: ['old_instance_type_id', 'str'],
  newFlavorId: ['new_instance_type_id', 'str'],
  projectId: ['project_id', 'str'],
  userId: ['user_id', 'str'],
  createdAt: ['created_at', 'str'],
  updatedAt: ['updated_at', 'str'],
  error: ['error', 'str'],
  memoryTotalBytes: ['memory_total_bytes', 'num'],
  memoryProcessedBytes: ['memory_processed_bytes', 'num'],
  memoryRemainingBytes: ['memory_remaining_bytes', 'num'],
  diskTotalBytes: ['disk_total_bytes', 'num'],
  diskProcessedBytes: ['disk_processed_bytes', 'num'],
  diskRemainingBytes: ['disk_remaining_bytes', 'num'],
  round: ['round', 'num'],
  transferredBytes: ['transferred_bytes', 'num'],
  dirtyRateBytesPerS: ['dirty_rate_bytes_per_s', 'num'],
  expectedDowntimeMs: ['expected_downtime_ms', 'num'],
  downtimeMs: ['downtime_ms', 'num'],
};

function encode(patch: Partial<MigrationRecord>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(patch)) {
    const f = FIELDS[k as keyof MigrationRecord];
    if (f && v !== undefined) out[f[0]] = f[1] === 'bool' ? (v ? '1' : '0') : String(v);
  }
  return out;
}

function parse(hash: Record<string, string>): MigrationRecord | undefined {
  if (!hash.uuid) return undefined;
  const rec: Record<string, unknown> = {};
  for (const [k, [field, codec]] of Object.entries(FIELDS)) {
    const raw = hash[field] ?? '';
    rec[k] = codec === 'num' ? Number(raw || 0) : codec === 'bool' ? raw === '1' : raw;
  }
  return rec as unknown as MigrationRecord;
}

export type NewMigration = Omit<
  MigrationRecord,
  'id' | 'uuid' | 'createdAt' | 'updatedAt' | 'error' | keyof MigrationProgressFields
>;

const NO_PROGRESS: MigrationProgressFields = {
  memoryTotalBytes: 0,
  memoryProcessedBytes: 0,
  memoryRemainingBytes: 0,
  diskTotalBytes: 0,
  diskProcessedBytes: 0,
  diskRemainingBytes: 0,
  round: 0,
  transferredBytes: 0,
  dirtyRateBytesPerS: 0,
  expectedDowntimeMs: 0,
  downtimeMs: 0,
};

/** Who drives a live migration: a gateway's id and how long its lease lasts unless renewed. */
export type MigrationLease = Lease;

/**
 * Writes a new (in-progress) migration record with the next integer id and indexes it, leased to
 * `lease.holder` in the same step: no gateway can take it for an abandoned one meanwhile.
 */
export async function createMigration(redis: Redis, m: NewMigration, lease: MigrationLease): Promise<MigrationRecord> {
  const id = await redis.incr(redisKeys.seq('migration'));
  const now = new Date().toISOString();
  const rec: MigrationRecord = {
    ...m,
    ...NO_PROGRESS,
    id,
    uuid: randomUUID(),
    createdAt: now,
    updatedAt: now,
    error: '',
  };
  await redis
    .multi()
    .set(redisKeys.migrationLease(rec.uuid), lease.holder, 'PX', lease.ttlMs)
    .hset(redisKeys.migration(rec.uuid), encode(rec))
    .zadd(redisKeys.migrations(), id, rec.uuid)
    .zadd(redisKeys.instanceMigrations(rec.instanceUuid), id, rec.uuid)
    .zadd(redisKeys.migrationsInProgress(), id, rec.uuid)
    .exec();
  return rec;
}

export async function getMigration(redis: Redis, uuid: string): Promise<MigrationRecord | undefined> {
  return parse(await redis.hgetall(redisKeys.migration(uuid)));
}

/** Every migration (or an instance's, or those in progress), oldest first. */
export async function listMigrations(
  redis: Redis,
  opts: { instanceUuid?: string } | { inProgress: true } = {},
): Promise<MigrationRecord[]> {
  const key =
    'inProgress' in opts
      ? redisKeys.migrationsInProgress()
      : opts.instanceUuid === undefined
        ? redisKeys.migrations()
        : redisKeys.instanceMigrations(opts.instanceUuid);
  const uuids = await redis.zrange(key, 0, -1);
  if (uuids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const u of uuids) pipeline.hgetall(redisKeys.migration(u));
  const out: MigrationRecord[] = [];
  for (const [err, hash] of (await pipeline.exec()) ?? []) {
    if (err) throw err;
    const rec = parse(hash as Record<string, string>);
    if (rec) out.push(rec);
  }
  return out;
}

// KEYS: 1 migration hash, 2 in-progress index. ARGV: 1 JSON [allowed statuses] ('' = any),
// 2 JSON {field: value}, 3 '1' when the patch ends the migration, 4 its uuid.
const UPDATE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
local allowed = cjson.decode(ARGV[1])
if #allowed > 0 then
  local s = redis.call('HGET', KEYS[1], 'status') or ''
  local ok = false
  for _, a in ipairs(allowed) do if a == s then ok = true end end
  if not ok then return s end
end
for field, value in pairs(cjson.decode(ARGV[2])) do redis.call('HSET', KEYS[1], field, value) end
if ARGV[3] == '1' then redis.call('ZREM', KEYS[2], ARGV[4]) end
return 'ok'
`;

/**
 * Applies `patch` when the migration's status is one of `from` (any when omitted); returns
 * true when applied. A migration that ended stays ended: progress written late is dropped.
 */
export async function updateMigration(
  redis: Redis,
  uuid: string,
  patch: Partial<Omit<MigrationRecord, 'id' | 'uuid'>>,
  from: readonly MigrationStatus[] = [],
): Promise<boolean> {
  const fields = encode({ ...patch, updatedAt: new Date().toISOString() });
  const ends = patch.status !== undefined && !MIGRATION_IN_PROGRESS.includes(patch.status);
  const r = await redis.eval(
    UPDATE_LUA,
    2,
    redisKeys.migration(uuid),
    redisKeys.migrationsInProgress(),
    JSON.stringify(from),
    JSON.stringify(fields),
    ends ? '1' : '0',
    uuid,
  );
  return r === 'ok';
}

/**
 * A gateway's lease on driving a live migration. `take` succeeds only on a lease nobody holds
 * (its driver ended it, or stopped renewing it: the gateway died); `renew` extends the holder's
 * own, or takes it back if it lapsed and nobody took it. Answers whether `lease.holder` now holds it.
 */
export function holdMigrationLease(
  redis: Redis,
  uuid: string,
  lease: MigrationLease,
  how: 'take' | 'renew',
): Promise<boolean> {
  return holdLease(redis, redisKeys.migrationLease(uuid), lease, how);
}

/** Ends `holder`'s lease on the migration (a no-op when another holds it). */
export function releaseMigrationLease(redis: Redis, uuid: string, holder: string): Promise<void> {
  return releaseLease(redis, redisKeys.migrationLease(uuid), holder);
}

// KEYS: outcome. ARGV: ttl seconds.
const SETTLE = new RedisScript(`
local o = redis.call('GET', KEYS[1])
if o then return o end
redis.call('SET', KEYS[1], 'aborted', 'EX', tonumber(ARGV[1]))
return 'aborted'
`);

/**
 * Settles a live migration's outcome for good (outcomeKey: redisKeys.migrationOutcome): 'committed'
 * when the destination already took the instance over, otherwise 'aborted' from now on (the
 * destination can no longer commit).
 */
export async function settleOutcome(redis: Redis, outcomeKey: string, ttlS = 86_400): Promise<'committed' | 'aborted'> {
  return (await SETTLE.run(redis, [outcomeKey], [ttlS])) === 'committed' ? 'committed' : 'aborted';
}
