// The shared instance record (cluster-state/src/instances.ts) against real Redis: compare-and-set state
// transitions (one winner among racing writers, vm_state checked before task_state), the host
// index following the host, and removal.
import assert from 'node:assert/strict';
import { NotFoundError, redisKeys, type Redis } from '@hypernova/common';
import {
  InstanceStateConflictError,
  TaskState,
  VmState,
  createInstance,
  getInstance,
  listInstances,
  removeInstance,
  updateInstance,
  type InstanceRecord,
} from '@hypernova/cluster-state';
import { useRedis } from '../harness/index.js';

function record(uuid: string): InstanceRecord {
  const now = new Date().toISOString();
  return {
    uuid,
    id: 1,
    name: 'vm',
    projectId: 'p1',
    userId: 'u1',
    flavor: { id: '1', name: 'm1.tiny', vcpus: 1, ramMb: 64, diskGb: 1, ephemeralGb: 0, swapMb: 0, extraSpecs: {} },
    imageId: 'img',
    vmState: VmState.ACTIVE,
    taskState: null,
    powerState: 1,
    host: 'h1',
    node: 'h1',
    availabilityZone: '',
    requestedAvailabilityZone: '',
    keyName: '',
    metadata: { a: 'b' },
    createdAt: now,
    updatedAt: now,
    launchedAt: now,
    terminatedAt: '',
    accessIPv4: '',
    accessIPv6: '',
    configDrive: '',
    reservationId: 'r-1',
    launchIndex: 0,
    hostname: 'vm',
    userData: '',
    serverGroup: '',
    progress: 100,
  };
}

describe('instance record (common) against real Redis', function () {
  this.timeout(30_000);
  const client = useRedis();
  let redis: Redis;
  before(() => (redis = client()));

  it('round-trips a record and lists it by project and host', async () => {
    const rec = record('i-1');
    await createInstance(redis, rec);
    assert.deepEqual(await getInstance(redis, 'i-1'), rec);
    assert.deepEqual(
      (await listInstances(redis, { projectId: 'p1' })).map((i) => i.uuid),
      ['i-1'],
    );
    assert.deepEqual(
      (await listInstances(redis, { host: 'h1' })).map((i) => i.uuid),
      ['i-1'],
    );
  });

  it('lets exactly one of many racing transitions win (auto-pipelined client)', async () => {
    await createInstance(redis, record('i-race'));
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        updateInstance(
          redis,
          'i-race',
          { taskState: TaskState.POWERING_OFF },
          { vmState: [VmState.ACTIVE], taskState: [null] },
        ),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof InstanceStateConflictError);
  });

  it('names vm_state before task_state in a conflict, and 404s a missing instance', async () => {
    await createInstance(redis, { ...record('i-c'), vmState: VmState.PAUSED, taskState: TaskState.UNPAUSING });
    await assert.rejects(
      updateInstance(
        redis,
        'i-c',
        { taskState: TaskState.POWERING_ON },
        { vmState: [VmState.STOPPED], taskState: [null] },
      ),
      (err: InstanceStateConflictError) => err.attr === 'vm_state' && err.state === 'paused',
    );
    await assert.rejects(
      updateInstance(
        redis,
        'i-c',
        { taskState: TaskState.UNPAUSING },
        { vmState: [VmState.PAUSED], taskState: [null] },
      ),
      (err: InstanceStateConflictError) => err.attr === 'task_state' && err.state === 'unpausing',
    );
    await assert.rejects(updateInstance(redis, 'nope', { taskState: null }), NotFoundError);
  });

  it('moves the instance between host indexes, clears a fault, and removes everything', async () => {
    await createInstance(redis, { ...record('i-m'), fault: { code: 500, message: 'x', details: '', created: '' } });
    const moved = await updateInstance(redis, 'i-m', { host: 'h2', fault: undefined });
    assert.equal(moved.host, 'h2');
    assert.equal(moved.fault, undefined);
    assert.equal(await redis.sismember(redisKeys.hostInstances('h1'), 'i-m'), 0);
    assert.equal(await redis.sismember(redisKeys.hostInstances('h2'), 'i-m'), 1);
    await removeInstance(redis, moved);
    assert.equal(await getInstance(redis, 'i-m'), undefined);
    assert.equal(await redis.sismember(redisKeys.hostInstances('h2'), 'i-m'), 0);
    assert.equal(await redis.sismember(redisKeys.instances(), 'i-m'), 0);
  });
});
