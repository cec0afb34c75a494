// Migration records' in-progress index and the lease of the gateway driving a migration, against
// a real redis-server: what lets gateways find an abandoned migration and take it over exactly once.
import assert from 'node:assert/strict';
import { type Redis } from '@hypernova/common';
import {
  createMigration,
  holdMigrationLease,
  listMigrations,
  releaseMigrationLease,
  updateMigration,
  type NewMigration,
} from '@hypernova/cluster-state';
import { useRedis } from '../harness/index.js';

const record: NewMigration = {
  instanceUuid: '6f1c1a52-93a5-4a4e-9a52-3e4c7b1d2f00',
  migrationType: 'live-migration',
  status: 'queued',
  sourceCompute: 'node-1',
  sourceNode: 'node-1',
  destCompute: '',
  destNode: '',
  destHost: '',
  blockMigration: true,
  oldFlavorId: '1',
  newFlavorId: '1',
  projectId: 'p',
  userId: 'u',
};

describe('migration leases against real Redis', function () {
  this.timeout(30_000);
  const client = useRedis();
  let redis: Redis;
  before(() => (redis = client()));

  it('a new migration is leased to its creator; others take it only once the lease lapsed or ended', async () => {
    const a = { holder: 'gw-a', ttlMs: 300 };
    const b = { holder: 'gw-b', ttlMs: 300 };
    const m = await createMigration(redis, record, a);
    assert.equal(await holdMigrationLease(redis, m.uuid, b, 'take'), false, 'held by its creator');
    assert.equal(await holdMigrationLease(redis, m.uuid, a, 'take'), false, 'not even its holder takes it again');
    assert.equal(await holdMigrationLease(redis, m.uuid, b, 'renew'), false, 'only the holder renews');
    assert.equal(await holdMigrationLease(redis, m.uuid, a, 'renew'), true);
    await releaseMigrationLease(redis, m.uuid, 'gw-b');
    assert.equal(await holdMigrationLease(redis, m.uuid, b, 'take'), false, 'another cannot end it');

    await new Promise((r) => setTimeout(r, 400)); // a stopped renewing: it died
    const c = { ...b, holder: 'gw-c' };
    const [byB, byC] = await Promise.all([
      holdMigrationLease(redis, m.uuid, b, 'take'),
      holdMigrationLease(redis, m.uuid, c, 'take'),
    ]);
    assert.notEqual(byB, byC, 'exactly one taker');
    await releaseMigrationLease(redis, m.uuid, byB ? b.holder : c.holder);
    assert.equal(await holdMigrationLease(redis, m.uuid, a, 'take'), true, 'free again once released');
  });

  it('lists a migration as in progress until a final status', async () => {
    const m = await createMigration(redis, record, { holder: 'gw-a', ttlMs: 10_000 });
    const inProgress = async () => (await listMigrations(redis, { inProgress: true })).map((x) => x.uuid);
    assert.ok((await inProgress()).includes(m.uuid));
    await updateMigration(redis, m.uuid, { status: 'running' });
    await updateMigration(redis, m.uuid, { memoryTotalBytes: 1 << 20 }, ['running']);
    assert.ok((await inProgress()).includes(m.uuid), 'progress and running keep it listed');
    assert.equal(await updateMigration(redis, m.uuid, { status: 'completed' }, ['queued']), false);
    assert.ok((await inProgress()).includes(m.uuid), 'a refused update changes nothing');
    assert.equal(await updateMigration(redis, m.uuid, { status: 'completed' }, ['running']), true);
    assert.ok(!(await inProgress()).includes(m.uuid));
  });
});
