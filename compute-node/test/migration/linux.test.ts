// Live migration of the Linux test guest (guest/: Linux 6.1 rv32, an init printing a heartbeat a
// second and rewriting memory it checks) between Machines in this process, over real NATS, with
// the instance's ownership flipped in real Redis at the commit point.
import { strict as assert } from 'node:assert';
import type { NatsConnection } from 'nats';
import { createRedis, redisKeys, type Redis } from '@hypernova/common';
import { redisOwnership, type SourceOptions, type SourceResult } from '../../src/migration/index.js';
import {
  assertConsecutive,
  harness,
  heartbeats,
  linuxVm,
  natsConnection,
  sleep,
  startMigration,
  type InfraServer,
  type Vm,
} from './rig.js';

describe('migration: Linux guest', function () {
  this.timeout(300_000);
  let nats: InfraServer;
  let redisServer: InfraServer;
  let redis: Redis;
  let ncA: NatsConnection;
  let ncB: NatsConnection;
  const vms: Vm[] = [];

  before(async () => {
    const h = await harness();
    [nats, redisServer] = await Promise.all([h.startNats(), h.startRedis()]);
    redis = createRedis(redisServer.url);
    ncA = await natsConnection(nats.url, 'node-a');
    ncB = await natsConnection(nats.url, 'node-b');
  });
  after(async () => {
    for (const vm of vms) vm.stop();
    await ncA?.close();
    await ncB?.close();
    redis?.disconnect();
    await Promise.all([nats?.stop(), redisServer?.stop()]);
  });

  /** Migrates `src` to a fresh machine, committing through the owner key; returns the new VM. */
  async function move(
    src: Vm,
    from: string,
    to: string,
    instance: string,
    source: Partial<SourceOptions> = {},
  ): Promise<{ dst: Vm; result: SourceResult }> {
    const dst = src.destination();
    vms.push(dst);
    const id = `${instance}-${from}-${to}-${Date.now()}`;
    const owner = redisOwnership(redis, {
      ownerKey: redisKeys.instanceOwner(instance),
      outcomeKey: `hn:migration:${id}:outcome`,
      source: from,
      destination: to,
    });
    const m = await startMigration(src, dst, from === 'node-a' ? ncA : ncB, to === 'node-a' ? ncA : ncB, {
      id,
      source: { resolveOutcome: owner.resolveOutcome, ...source },
      destination: { commit: owner.commit },
    });
    const r = await m.result;
    assert.ok(!(r.source instanceof Error), String(r.source));
    assert.ok(!(r.destination instanceof Error), String(r.destination));
    assert.equal(await redis.get(redisKeys.instanceOwner(instance)), to);
    src.stop();
    return { dst, result: r.source as SourceResult };
  }

  it('a guest rewriting memory moves there and back: every heartbeat once, memory intact, owner flipped each time', async () => {
    const instance = `linux-busy-${Date.now()}`;
    await redis.set(redisKeys.instanceOwner(instance), 'node-a');
    const a = await linuxVm('hn.dirty_mib_s=16 hn.wss_mib=8');
    vms.push(a);
    await a.waitFor(/heartbeat 2\b/, 30_000);
    // Capped, so the first pass spans several of the guest's 100 ms dirtying slices: uncapped it
    // can take less than one, and whether a second round comes would depend on the host's speed.
    const { dst: b, result } = await move(a, 'node-a', 'node-b', instance, { maxBandwidth: 64 << 20 });
    assert.ok(result.rounds >= 2);
    await b.waitFor(new RegExp(`heartbeat ${(heartbeats(a.log).at(-1) ?? 0) + 2}\\b`), 30_000);
    const { dst: c } = await move(b, 'node-b', 'node-a', instance);
    await c.waitFor(new RegExp(`heartbeat ${(heartbeats(b.log).at(-1) ?? 0) + 2}\\b`), 30_000);
    const all = a.log + b.log + c.log;
    assert.doesNotMatch(all, /MEMCHECK-FAIL/);
    assert.match(a.log, /hn: dirtying 16 MiB\/s over 8 MiB/);
    assertConsecutive(heartbeats(all));
  });

  it('a WFI-idle guest keeps ticking on the destination: armed timer carried over, time never goes back', async () => {
    const instance = `linux-idle-${Date.now()}`;
    await redis.set(redisKeys.instanceOwner(instance), 'node-a');
    const a = await linuxVm('quiet');
    vms.push(a);
    await a.waitFor(/heartbeat 2\b/, 30_000);
    // Between heartbeats the hart sleeps in WFI with the SBI timer armed for the next one.
    while (!a.machine.hart.wfi) await sleep(5);
    assert.ok(Number.isFinite(a.machine.sbi!.timerDeadline), 'the guest has a timer armed');
    let pause: { mtime: number; at: number } | undefined;
    const { dst: b } = await move(a, 'node-a', 'node-b', instance, {
      onProgress: (p) => {
        // The last look before the pause: the guest saw at least this much time on the source.
        if (p.status === 'running') pause = { mtime: a.machine.clint.clock.now(), at: performance.now() };
      },
    });
    assert.ok(pause);
    // The destination's clock continues from the pause: never behind what the guest saw, never ahead of the time since.
    const mtime = b.machine.clint.clock.now();
    assert.ok(mtime >= pause.mtime, `guest time went back: ${mtime} < ${pause.mtime}`);
    assert.ok(mtime <= pause.mtime + (performance.now() - pause.at) * 10_000 + 10_000, 'guest time jumped ahead');
    // The timer armed at the pause came along (or has fired here already and been re-armed later).
    const armed = a.machine.sbi!.timerDeadline;
    assert.ok(
      Number.isFinite(armed) && b.machine.sbi!.timerDeadline >= armed,
      `timer ${b.machine.sbi!.timerDeadline} vs ${armed}`,
    );
    const last = heartbeats(a.log).at(-1)!;
    const resumedAt = performance.now();
    await b.waitFor(new RegExp(`heartbeat ${last + 2}\\b`), 10_000);
    assert.ok(performance.now() - resumedAt < 4_000, 'the next heartbeats came on time');
    assertConsecutive(heartbeats(a.log + b.log));
  });
});
