// An instance's record in Redis, shared by the API gateway (which creates it and drives its life
// cycle) and the compute agent (which reports what its VMs do): Nova's vm_state, task_state and
// power_state plus what the API shows. Every change goes through updateInstance, a
// compare-and-set on the states (Nova's expected_task_state), so two writers never both win a
// transition; publishInstanceEvent then tells watchers on NATS.
import type { Redis } from 'ioredis';
import type { NatsConnection } from 'nats';
import { compute } from '@hypernova/proto';
import { ConflictError, NotFoundError, redisKeys, subjects } from '@hypernova/common';

/** Nova's vm_states (nova/compute/vm_states.py) this project uses. */
export const VmState = {
  ACTIVE: 'active',
  BUILDING: 'building',
  PAUSED: 'paused',
  SUSPENDED: 'suspended',
  STOPPED: 'stopped',
  ERROR: 'error',
  DELETED: 'deleted',
} as const;
export type VmState = (typeof VmState)[keyof typeof VmState];

/** Nova's task_states (nova/compute/task_states.py) this project uses; null when idle. */
export const TaskState = {
  SCHEDULING: 'scheduling',
  SPAWNING: 'spawning',
  DELETING: 'deleting',
  POWERING_OFF: 'powering-off',
  POWERING_ON: 'powering-on',
  REBOOTING: 'rebooting',
  REBOOTING_HARD: 'rebooting_hard',
  PAUSING: 'pausing',
  UNPAUSING: 'unpausing',
  SUSPENDING: 'suspending',
  RESUMING: 'resuming',
  MIGRATING: 'migrating',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** Nova's power_state numbers, the same as the Compute gRPC contract's. */
export const PowerState = compute.PowerState;
export type PowerState = compute.PowerState;

export interface InstanceFlavor {
  id: string;
  name: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  ephemeralGb: number;
  swapMb: number;
  extraSpecs: Record<string, string>;
}

/** Nova's instance fault: why the instance went to ERROR. */
export interface InstanceFault {
  code: number;
  message: string;
  details: string;
  /** ISO 8601 */
  created: string;
}

export interface InstanceRecord {
  uuid: string;
  /** Integer id, giving Nova's instance_name (instance-%08x). */
  id: number;
  name: string;
  projectId: string;
  userId: string;
  flavor: InstanceFlavor;
  imageId: string;
  vmState: VmState;
  taskState: TaskState | null;
  powerState: PowerState;
  /** The compute host running it; '' until placed. */
  host: string;
  /** Its hypervisor's hostname (the same as host here). */
  node: string;
  availabilityZone: string;
  /** The zone the create request asked for ('' for any): later placements (live migration) keep to it, as Nova's RequestSpec does. */
  requestedAvailabilityZone: string;
  keyName: string;
  metadata: Record<string, string>;
  fault?: InstanceFault;
  /** ISO 8601 times; '' when not (yet) set. */
  createdAt: string;
  updatedAt: string;
  launchedAt: string;
  terminatedAt: string;
  accessIPv4: string;
  accessIPv6: string;
  configDrive: string;
  reservationId: string;
  launchIndex: number;
  hostname: string;
  /** base64, as the API received it. */
  userData: string;
  /** Server group uuid, '' when none. */
  serverGroup: string;
  progress: number;
  /** Nova's display_description (API 2.19): null or absent when unset, which differs from ''. */
  description?: string | null;
}

export type InstancePatch = Partial<Omit<InstanceRecord, 'uuid' | 'id' | 'projectId' | 'createdAt'>>;

type Codec = 'str' | 'num' | 'json' | 'nullable';
// record key -> [hash field, codec]; hash fields are Nova's column names.
const FIELDS: { [K in keyof InstanceRecord]-?: [string, Codec] } = {
  uuid: ['uuid', 'str'],
  id: ['id', 'num'],
  name: ['display_name', 'str'],
  projectId: ['project_id', 'str'],
  userId: ['user_id', 'str'],
  flavor: ['flavor', 'json'],
  imageId: ['image_ref', 'str'],
  vmState: ['vm_state', 'str'],
  taskState: ['task_state', 'nullable'],
  powerState: ['power_state', 'num'],
  host: ['host', 'str'],
  node: ['node', 'str'],
  availabilityZone: ['availability_zone', 'str'],
  requestedAvailabilityZone: ['requested_availability_zone', 'str'],
  keyName: ['key_name', 'str'],
  metadata: ['metadata', 'json'],
  fault: ['fault', 'json'],
  createdAt: ['created_at', 'str'],
  updatedAt: ['updated_at', 'str'],
  launchedAt: ['launched_at', 'str'],
  terminatedAt: ['terminated_at', 'str'],
  accessIPv4: ['access_ip_v4', 'str'],
  accessIPv6: ['access_ip_v6', 'str'],
  configDrive: ['config_drive', 'str'],
  reservationId: ['reservation_id', 'str'],
  launchIndex: ['launch_index', 'num'],
  hostname: ['hostname', 'str'],
  userData: ['user_data', 'str'],
  serverGroup: ['server_group', 'str'],
  progress: ['progress', 'num'],
  // JSON, so that '' and null (stored as '', read back as absent) stay apart.
  description: ['display_description', 'json'],
};

/** The hash field holding a record key (for readers that HGET one field). */
export const INSTANCE_FIELDS = Object.fromEntries(Object.entries(FIELDS).map(([k, [f]]) => [k, f])) as {
  [K in keyof InstanceRecord]-?: string;
};

function encode(patch: Partial<InstanceRecord>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(patch)) {
    const spec = FIELDS[key as keyof InstanceRecord];
    if (!spec || value === undefined) continue;
    const [field, codec] = spec;
    // null (no task) and an absent fault are stored as '' so the Lua compare sees one form.
    out[field] = value === null ? '' : codec === 'json' ? JSON.stringify(value) : String(value);
  }
  return out;
}

/** The hash fields createInstance writes for a record, for scripts that create records themselves (quota-checked creates). */
export const encodeInstance = (rec: InstanceRecord): Record<string, string> => encode(rec);

/** Parses an instance hash; undefined when empty (no such instance). */
export function parseInstance(hash: Record<string, string>): InstanceRecord | undefined {
  if (!hash.uuid) return undefined;
  const rec: Record<string, unknown> = {};
  for (const [key, [field, codec]] of Object.entries(FIELDS)) {
    const raw = hash[field] ?? '';
    switch (codec) {
      case 'str':
        rec[key] = raw;
        break;
      case 'num':
        rec[key] = raw === '' ? 0 : Number(raw);
        break;
      case 'nullable':
        rec[key] = raw === '' ? null : raw;
        break;
      case 'json':
        if (raw !== '') rec[key] = JSON.parse(raw) as unknown;
        break;
    }
  }
  rec.metadata ??= {};
  return rec as unknown as InstanceRecord;
}

/** Writes a new instance and indexes it (all instances, its project's). */
export async function createInstance(redis: Redis, rec: InstanceRecord): Promise<void> {
  const m = redis
    .multi()
    .hset(redisKeys.instance(rec.uuid), encode(rec))
    .sadd(redisKeys.instances(), rec.uuid)
    .sadd(redisKeys.projectInstances(rec.projectId), rec.uuid);
  if (rec.host) m.sadd(redisKeys.hostInstances(rec.host), rec.uuid);
  await m.exec();
}

/** The next integer instance id. */
export function nextInstanceId(redis: Redis): Promise<number> {
  return redis.incr(redisKeys.seq('instance'));
}

export async function getInstance(redis: Redis, uuid: string): Promise<InstanceRecord | undefined> {
  return parseInstance(await redis.hgetall(redisKeys.instance(uuid)));
}

/** Records of the given uuids, in order, skipping the ones that vanished. */
export async function getInstances(redis: Redis, uuids: readonly string[]): Promise<InstanceRecord[]> {
  if (uuids.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const u of uuids) pipeline.hgetall(redisKeys.instance(u));
  const replies = (await pipeline.exec()) ?? [];
  const out: InstanceRecord[] = [];
  for (const [err, hash] of replies) {
    if (err) throw err;
    const rec = parseInstance(hash as Record<string, string>);
    if (rec) out.push(rec);
  }
  return out;
}

/** Every instance, or a project's, or a host's. */
export async function listInstances(
  redis: Redis,
  opts: { projectId?: string; host?: string } = {},
): Promise<InstanceRecord[]> {
  const key =
    opts.projectId !== undefined
      ? redisKeys.projectInstances(opts.projectId)
      : opts.host !== undefined
        ? redisKeys.hostInstances(opts.host)
        : redisKeys.instances();
  return getInstances(redis, await redis.smembers(key));
}

/** What the current state must be for an update to apply (null: no task). */
export interface InstanceExpectation {
  vmState?: readonly VmState[];
  taskState?: readonly (TaskState | null)[];
}

/** The update was refused because vm_state or task_state was not an expected one. */
export class InstanceStateConflictError extends ConflictError {
  constructor(
    readonly uuid: string,
    readonly attr: 'vm_state' | 'task_state',
    readonly state: string,
  ) {
    super(`Instance ${uuid} is in ${attr} ${state || 'None'}`);
  }
}

// KEYS: 1 instance hash, 2 the set of the host it is on (per ARGV[2]), 3 the set of the host the patch puts it on
// ARGV: 1 uuid, 2 the host the caller read, 3 JSON [[field, [allowed values]], ...] checked in order, 4 JSON {field: value}
// Returns {'ok', HGETALL...}, {'missing'}, {'stale'} (host changed since read: re-read) or {'conflict', field, value}.
const CAS_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local host = redis.call('HGET', KEYS[1], 'host') or ''
if host ~= ARGV[2] then return {'stale'} end
for _, check in ipairs(cjson.decode(ARGV[3])) do
  local field, allowed = check[1], check[2]
  local v = redis.call('HGET', KEYS[1], field) or ''
  local ok = false
  for _, a in ipairs(allowed) do if a == v then ok = true end end
  if not ok then return {'conflict', field, v} end
end
local patch = cjson.decode(ARGV[4])
for field, value in pairs(patch) do redis.call('HSET', KEYS[1], field, value) end
local new_host = patch['host']
if new_host ~= nil and new_host ~= host then
  if host ~= '' then redis.call('SREM', KEYS[2], ARGV[1]) end
  if new_host ~= '' then redis.call('SADD', KEYS[3], ARGV[1]) end
end
local out = redis.call('HGETALL', KEYS[1])
table.insert(out, 1, 'ok')
return out
`;

/** Runs the compare-and-set script. */
async function cas(redis: Redis, keys: [string, string, string], argv: string[]): Promise<string[]> {
  // Plain EVAL, not defineCommand: ioredis's auto-pipelining (which createRedis turns on)
  // mishandles defined scripts in a pipeline. Redis caches the compiled script by its SHA, so
  // resending its text costs only the bytes.
  return (await redis.eval(CAS_LUA, keys.length, ...keys, ...argv)) as string[];
}

/**
 * Applies `patch` if the instance's states are among `expect`'s, atomically, and returns the
 * updated record. Throws NotFoundError when the instance is gone and InstanceStateConflictError
 * when a state does not match. updated_at is set to now.
 */
export async function updateInstance(
  redis: Redis,
  uuid: string,
  patch: InstancePatch,
  expect: InstanceExpectation = {},
): Promise<InstanceRecord> {
  // vm_state is checked before task_state, so a conflict names the same attribute Nova's would.
  const expectations: [string, string[]][] = [];
  if (expect.vmState) expectations.push([FIELDS.vmState[0], [...expect.vmState]]);
  if (expect.taskState) expectations.push([FIELDS.taskState[0], expect.taskState.map((t) => t ?? '')]);
  const fields = encode({ ...patch, updatedAt: patch.updatedAt ?? new Date().toISOString() });
  if (patch.fault === undefined && 'fault' in patch) fields[FIELDS.fault[0]] = '';
  for (;;) {
    const host = (await redis.hget(redisKeys.instance(uuid), FIELDS.host[0])) ?? '';
    const newHost = patch.host ?? host;
    const reply = await cas(
      redis,
      [redisKeys.instance(uuid), redisKeys.hostInstances(host), redisKeys.hostInstances(newHost)],
      [uuid, host, JSON.stringify(expectations), JSON.stringify(fields)],
    );
    switch (reply[0]) {
      case 'ok': {
        const hash: Record<string, string> = {};
        for (let i = 1; i + 1 < reply.length; i += 2) hash[reply[i]] = reply[i + 1];
        return parseInstance(hash) as InstanceRecord;
      }
      case 'missing':
        throw new NotFoundError(`Instance ${uuid} could not be found.`);
      case 'conflict':
        throw new InstanceStateConflictError(
          uuid,
          reply[1] === FIELDS.vmState[0] ? 'vm_state' : 'task_state',
          reply[2] ?? '',
        );
      default:
      // 'stale': the host moved between our read and the script; read it again.
    }
  }
}

/** Removes the record and its index entries (after the instance was deleted). */
export async function removeInstance(
  redis: Redis,
  rec: Pick<InstanceRecord, 'uuid' | 'projectId' | 'host'>,
): Promise<void> {
  const m = redis
    .multi()
    .del(redisKeys.instance(rec.uuid), redisKeys.instanceOwner(rec.uuid))
    .srem(redisKeys.instances(), rec.uuid)
    .srem(redisKeys.projectInstances(rec.projectId), rec.uuid);
  if (rec.host) m.srem(redisKeys.hostInstances(rec.host), rec.uuid);
  await m.exec();
}

/** What watchers receive on subjects.instanceEvents(uuid) after every state change. */
export interface InstanceEvent {
  uuid: string;
  projectId: string;
  name: string;
  vmState: VmState;
  taskState: TaskState | null;
  powerState: PowerState;
  host: string;
  fault?: InstanceFault;
  updatedAt: string;
}

/** Publishes the record's state; callers publish after the Redis write, so a watcher can re-read. */
export function publishInstanceEvent(nc: NatsConnection, rec: InstanceRecord): void {
  const event: InstanceEvent = {
    uuid: rec.uuid,
    projectId: rec.projectId,
    name: rec.name,
    vmState: rec.vmState,
    taskState: rec.taskState,
    powerState: rec.powerState,
    host: rec.host,
    fault: rec.fault,
    updatedAt: rec.updatedAt,
  };
  nc.publish(subjects.instanceEvents(rec.uuid), JSON.stringify(event));
}
