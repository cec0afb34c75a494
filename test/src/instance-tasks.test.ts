// An instance's tasks run one after the other across gateways: two Tasks (two gateways) sharing
// a real redis-server, and a gateway that died holding an instance's lease.
import assert from 'node:assert/strict';
import { Tasks } from '@hypernova/api-gateway';
import { createLogger, redisKeys, type Redis } from '@hypernova/common';
import { useRedis } from './harness/index.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('tasks across gateways (real Redis)', function () {
  this.timeout(30_000);
  const client = useRedis();
  let redis: Redis;
  before(() => (redis = client()));
  const logger = createLogger('tasks-test', { level: 'silent' });
  const gateway = (holder: string) => new Tasks(logger, { redis, lease: { holder, ttlMs: 600 } });

  it("runs an instance's task only once another gateway's task on it ended; other instances' meanwhile", async () => {
    const [a, b] = [gateway('gw-a'), gateway('gw-b')];
    const log: string[] = [];
    const task = (name: string, ms: number) => async () => {
      log.push(`${name} start`);
      await sleep(ms);
      log.push(`${name} end`);
    };
    a.run('vm-1', 'migrate', task('a:vm-1', 1500)); // longer than the lease: it is renewed meanwhile
    await sleep(50);
    b.run('vm-1', 'delete', task('b:vm-1', 10));
    b.run('vm-2', 'reboot', task('b:vm-2', 10));
    await Promise.all([a.idle(), b.idle()]);
    assert.deepEqual(log, ['a:vm-1 start', 'b:vm-2 start', 'b:vm-2 end', 'a:vm-1 end', 'b:vm-1 start', 'b:vm-1 end']);
    assert.equal(await redis.exists(redisKeys.instanceTaskLease('vm-1')), 0, 'released');
  });

  it('waits out the lease of a gateway that died running a task, then runs', async () => {
    await redis.set(redisKeys.instanceTaskLease('vm-3'), 'gw-dead', 'PX', 700);
    const started = performance.now();
    let ranAfter = -1;
    const b = gateway('gw-b');
    b.run('vm-3', 'delete', async () => void (ranAfter = performance.now() - started));
    await b.idle();
    assert.ok(ranAfter >= 600, `ran after ${Math.round(ranAfter)} ms, inside the dead gateway's lease`);
  });

  it('runs tasks of one gateway in order without waiting on its own lease', async () => {
    const a = gateway('gw-a');
    const log: number[] = [];
    for (let i = 0; i < 5; i++) a.run('vm-4', `t${i}`, async () => void log.push(i));
    const started = performance.now();
    await a.idle();
    assert.deepEqual(log, [0, 1, 2, 3, 4]);
    assert.ok(performance.now() - started < 500, 'no polling between its own tasks');
  });
});
