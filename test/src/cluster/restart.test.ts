// The cluster across NATS and Redis restarts, with the stand-in VM process: each server is
// restarted on the same port with the same data dir while creates and state changes are under
// way, and afterwards no instance record is missing, every instance still answers (show,
// console), new servers come up end to end, instance events reach NATS subscribers and the
// agents keep heartbeating. node-2 sits alone in the "cold" zone so that nothing lands on it
// before the NATS restart: its first server pulls the image from JetStream after it.
import { strict as assert } from 'node:assert';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { connectNats, redisKeys, subjects, type NatsConnection } from '@hypernova/common';
import { getInstances, listHosts, type InstanceEvent } from '@hypernova/cluster-state';
import { TestCluster } from './cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const warm = { extra: { availability_zone: 'nova' } };
const cold = { extra: { availability_zone: 'cold' } };

/** Collects the instance events a connection receives. */
function watch(nc: NatsConnection): { events: InstanceEvent[]; stop(): void } {
  const events: InstanceEvent[] = [];
  const sub = nc.subscribe(subjects.allInstanceEvents, {
    callback: (_err, msg) => events.push(JSON.parse(new TextDecoder().decode(msg.data)) as InstanceEvent),
  });
  return { events, stop: () => sub.unsubscribe() };
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await sleep(100);
  }
}

describe('cluster across NATS and Redis restarts (stand-in VMs, real Redis/NATS/schedulers/agents/gateway)', function () {
  this.timeout(60_000);
  let c: TestCluster;

  before(async function () {
    this.timeout(120_000);
    c = await TestCluster.start({ vm: 'fake', nodes: 1, agent: { vcpus: 8 } });
    await c.addAgent('node-2', { vcpus: 8, env: { COMPUTE_AVAILABILITY_ZONE: 'cold' } });
    await sleep(500); // the schedulers' host refresh
  });

  after(async () => {
    await c?.stop();
  });

  afterEach(async () => {
    const res = await c.request('GET', '/compute/v2.1/servers?all_tenants=1');
    await Promise.all(((res.body?.servers ?? []) as { id: string }[]).map((s) => c.deleteServer(s.id)));
  });

  function imageFile(method: 'GET' | 'PUT', id: string, body?: string): Promise<Response> {
    const headers = { 'x-auth-token': c.adminToken, 'content-type': 'application/octet-stream' };
    return fetch(`${c.gateway.url}/image/v2/images/${id}/file`, { method, headers, body });
  }

  /** Every id is in the API's list and has its record in Redis. */
  async function assertAllKept(ids: string[]): Promise<void> {
    const res = await c.request('GET', '/compute/v2.1/servers?all_tenants=1');
    assert.equal(res.status, 200);
    const listed = new Set((res.body.servers as { id: string }[]).map((s) => s.id));
    for (const id of ids) assert.ok(listed.has(id), `${id} listed`);
    assert.deepEqual(
      (await getInstances(c.redis, ids)).map((r) => r.uuid),
      ids,
    );
  }

  /**
   * Crashes a server (`crash`) while two creates are building and `settled[0]` is stopping; then
   * every operation ends as asked, every record is kept and the guests answer on their consoles.
   */
  async function crashMidOperations(
    prefix: string,
    settled: string[],
    crash: () => Promise<void>,
  ): Promise<{ building: string[]; restartedAt: number }> {
    const building = await Promise.all([3, 4].map((i) => c.createServer(`${prefix}-${i}`, warm)));
    assert.equal((await c.action(settled[0], { 'os-stop': null })).status, 202);
    await crash();
    const restartedAt = Date.now();

    await c.waitStatus(settled[0], 'SHUTOFF');
    const active = [settled[1], ...building];
    for (const id of active) await c.waitStatus(id, 'ACTIVE');
    await assertAllKept([...settled, ...building]);
    for (const id of active) assert.match(await c.consoleOutput(id), /BOOT-OK/, `${id} console`);
    return { building, restartedAt };
  }

  /** Both agents heartbeat after `since` (their alive key holds the time of the last beat). */
  async function assertHeartbeatsAfter(since: number): Promise<void> {
    for (const a of c.agents) {
      await waitFor(
        `a heartbeat of ${a.name}`,
        async () => Number(await c.redis.get(redisKeys.hostAlive(a.name))) > since,
        5000,
      );
    }
    for (const h of await listHosts(c.redis)) assert.equal(h.up, true, h.name);
  }

  it('a NATS crash and restart during creates and state changes loses nothing; images, events and heartbeats carry on', async () => {
    const settled = await Promise.all([1, 2].map((i) => c.createServer(`nats-${i}`, warm)));
    await Promise.all(settled.map((id) => c.waitStatus(id, 'ACTIVE')));
    // Subscribed before the restart: the client must subscribe again when it reconnects.
    const early = watch(c.nc);
    await c.nc.flush();
    // The gateway opens its view of the image store now, to use it again after the restart.
    assert.equal((await imageFile('GET', c.image.id)).status, 200);

    const { restartedAt } = await crashMidOperations('nats', settled, () => c.infra.nats.restart({ crash: true }));

    const fresh = await connectNats(c.infra.nats.url);
    try {
      const late = watch(fresh);
      await fresh.flush();
      // Published by the gateway (an API action) and by node-1's reporter (a VM dying on its own).
      assert.equal((await c.action(settled[0], { 'os-start': null })).status, 202);
      await c.waitStatus(settled[0], 'ACTIVE');
      process.kill(c.agent('node-1').vmPids().get(settled[1]) as number, 'SIGKILL');
      await c.waitStatus(settled[1], 'ERROR', 5000);
      // The first server on node-2: its image comes from the JetStream store that survived.
      const newId = await c.createServer('after-nats', cold);
      const s = await c.waitStatus(newId, 'ACTIVE');
      assert.equal(s['OS-EXT-SRV-ATTR:host'], 'node-2');
      assert.equal(
        statSync(join(c.agent('node-2').stateDir, 'images', c.image.id)).size,
        c.image.size,
        'image pulled into node-2',
      );
      assert.match(await c.consoleOutput(newId), /BOOT-OK/);
      // Glance's upload and download through the gateway's reconnected store.
      const img = await c.request('POST', '/image/v2/images', {
        name: 'after-nats',
        disk_format: 'raw',
        container_format: 'bare',
      });
      assert.equal(img.status, 201);
      const data = 'uploaded after the NATS restart\n'.repeat(100);
      assert.equal((await imageFile('PUT', img.body.id, data)).status, 204);
      assert.equal(await (await imageFile('GET', img.body.id)).text(), data);

      const seen = (w: { events: InstanceEvent[] }, uuid: string, vmState: string) =>
        w.events.some((e) => e.uuid === uuid && e.vmState === vmState);
      for (const [w, who] of [
        [late, 'a new client'],
        [early, 'a subscription from before the restart'],
      ] as const) {
        await waitFor(
          `events on ${who}`,
          () => seen(w, settled[0], 'active') && seen(w, settled[1], 'error') && seen(w, newId, 'active'),
          3000,
        );
      }
      late.stop();
      early.stop();
    } finally {
      await fresh.close();
    }
    await assertHeartbeatsAfter(restartedAt);
  });

  it('a Redis crash and restart during creates and state changes loses no instance record; the cluster keeps working', async () => {
    const settled = await Promise.all([1, 2].map((i) => c.createServer(`redis-${i}`, warm)));
    await Promise.all(settled.map((id) => c.waitStatus(id, 'ACTIVE')));

    const { building, restartedAt } = await crashMidOperations('redis', settled, () =>
      c.infra.redis.restart({ crash: true }),
    );

    assert.equal((await c.action(settled[0], { 'os-start': null })).status, 202);
    await c.waitStatus(settled[0], 'ACTIVE');
    const newIds = await Promise.all([c.createServer('after-redis-1', warm), c.createServer('after-redis-2', cold)]);
    for (const id of newIds) {
      await c.waitStatus(id, 'ACTIVE');
      assert.match(await c.consoleOutput(id), /BOOT-OK/);
    }
    await assertAllKept([...settled, ...building, ...newIds]);
    await assertHeartbeatsAfter(restartedAt);
  });
});
