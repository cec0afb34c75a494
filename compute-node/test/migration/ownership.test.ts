// The Redis commit point: exactly one of the destination's commit and the source's resolution wins.
import { strict as assert } from 'node:assert';
import { createRedis, type Redis } from '@hypernova/common';
import { redisOwnership } from '../../src/migration/index.js';
import { harness, type InfraServer } from './rig.js';

describe('migration ownership in Redis', function () {
  this.timeout(60_000);
  let server: InfraServer;
  let redis: Redis;
  before(async () => {
    server = await (await harness()).startRedis();
    redis = createRedis(server.url);
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  const setup = async (name: string) => {
    await redis.set(`owner:${name}`, 'a');
    return redisOwnership(redis, {
      ownerKey: `owner:${name}`,
      outcomeKey: `outcome:${name}`,
      source: 'a',
      destination: 'b',
    });
  };

  it('commit flips the owner; a later resolution sees it committed', async () => {
    const o = await setup('one');
    await o.commit();
    assert.equal(await redis.get('owner:one'), 'b');
    assert.equal(await o.resolveOutcome(), 'committed');
    await o.commit(); // idempotent for a destination that asks again
  });

  it('a resolution first makes a later commit fail, and the owner stays', async () => {
    const o = await setup('two');
    assert.equal(await o.resolveOutcome(), 'aborted');
    await assert.rejects(o.commit(), /gave up/);
    assert.equal(await redis.get('owner:two'), 'a');
  });

  it('racing each other, exactly one wins', async () => {
    for (let i = 0; i < 20; i++) {
      const o = await setup(`race${i}`);
      const [c, r] = await Promise.allSettled([o.commit(), o.resolveOutcome()]);
      const committed = c.status === 'fulfilled';
      assert.equal(r.status === 'fulfilled' && r.value, committed ? 'committed' : 'aborted');
      assert.equal(await redis.get(`owner:race${i}`), committed ? 'b' : 'a');
    }
  });

  it("a commit for an instance that is not the source's is refused", async () => {
    const o = await setup('three');
    await redis.set('owner:three', 'elsewhere');
    await assert.rejects(o.commit(), /not owned by a/);
  });
});
