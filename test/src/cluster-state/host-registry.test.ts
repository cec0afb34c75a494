// The host registry a compute agent uses, against a real redis-server.
import assert from 'node:assert/strict';
import { redisKeys, type Redis } from '@hypernova/common';
import { getHost, listHosts, registerHost, setHostEnabled, startHostHeartbeat } from '@hypernova/cluster-state';
import { useRedis } from '../harness/index.js';

const spec = {
  name: 'node-a',
  address: '127.0.0.1:50061',
  vcpus: 4,
  ramMb: 8192,
  diskGb: 80,
  cpuAllocationRatio: 16,
  ramAllocationRatio: 1.5,
  diskAllocationRatio: 1,
  hypervisorType: 'hypernova',
  hypervisorVersion: '0.1.0',
  architecture: 'riscv32',
  availabilityZone: 'nova',
  enabled: true,
};

describe('host registry against real Redis', function () {
  this.timeout(30_000);
  const client = useRedis();
  let redis: Redis;
  before(() => (redis = client()));

  it('registers, heartbeats, re-registers a lost record, and marks the host down on stop', async () => {
    const hb = await startHostHeartbeat(redis, spec, { intervalMs: 100, ttlS: 1 });
    try {
      assert.deepEqual(
        (await listHosts(redis)).map((h) => [h.name, h.up, h.vcpus]),
        [['node-a', true, 4]],
      );
      // Usage counters belong to placement: registering again must leave them alone.
      await redis.hset(redisKeys.host('node-a'), 'used_vcpus', '3');
      await registerHost(redis, { ...spec, vcpus: 6 });
      assert.equal((await getHost(redis, 'node-a'))?.used.vcpus, 3);
      // A Redis that lost everything gets the record back from the next beat.
      await redis.flushall();
      await new Promise((r) => setTimeout(r, 400));
      const back = await getHost(redis, 'node-a');
      assert.equal(back?.up, true);
      assert.equal(back?.vcpus, 4);
      assert.deepEqual(await redis.smembers(redisKeys.hosts()), ['node-a']);
      await setHostEnabled(redis, 'node-a', false, 'maintenance');
      const disabled = await getHost(redis, 'node-a');
      assert.equal(disabled?.enabled, false);
      assert.equal(disabled?.disabledReason, 'maintenance');
    } finally {
      await hb.stop({ markDown: true });
    }
    assert.equal((await getHost(redis, 'node-a'))?.up, false);
  });
});
