// The harness itself: real servers come up on free ports, answer, keep data across an AOF
// restart, and go away.
import assert from 'node:assert/strict';
import { connectNats, createRedis } from '@hypernova/common';
import { startInfra, startRedis, waitForTcp } from './harness/index.js';

describe('test harness', function () {
  this.timeout(60_000);

  it('starts redis-server and nats-server (JetStream on) and stops them', async () => {
    const infra = await startInfra();
    try {
      const redis = createRedis(infra.redis.url);
      assert.equal(await redis.ping(), 'PONG');
      redis.disconnect();
      const nc = await connectNats(infra.nats.url);
      const jsm = await nc.jetstreamManager();
      const info = await jsm.getAccountInfo();
      assert.equal(typeof info.streams, 'number');
      await nc.close();
    } finally {
      await infra.stop();
    }
    await assert.rejects(waitForTcp(infra.redis.host, infra.redis.port, 300));
  });

  it('keeps Redis data across a crash restart with AOF on', async () => {
    const server = await startRedis({ aof: true });
    const redis = createRedis(server.url);
    try {
      await redis.set('k', 'v');
      await server.restart({ crash: true });
      assert.equal(await redis.get('k'), 'v');
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
