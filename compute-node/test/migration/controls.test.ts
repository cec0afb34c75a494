// Migrations of a bare-metal guest that rewrites memory while printing a heartbeat every 100 ms,
// between two Machines in this process over a real nats-server: plain, forced to complete,
// aborted from either side, refused, and two at once.
import { strict as assert } from 'node:assert';
import type { NatsConnection } from 'nats';
import { MigrationError, wire, type MigrationProgress, type SourceResult } from '../../src/migration/index.js';
import {
  assertConsecutive,
  dirtierVm,
  harness,
  heartbeats,
  natsConnection,
  sleep,
  startMigration,
  Vm,
  type InfraServer,
} from './rig.js';

describe('migration: controls', function () {
  this.timeout(120_000);
  let nats: InfraServer;
  let ncA: NatsConnection;
  let ncB: NatsConnection;
  const vms: Vm[] = [];

  before(async () => {
    nats = await (await harness()).startNats();
    ncA = await natsConnection(nats.url, 'node-a');
    ncB = await natsConnection(nats.url, 'node-b');
  });
  afterEach(() => {
    for (const vm of vms.splice(0)) vm.stop();
  });
  after(async () => {
    await ncA?.close();
    await ncB?.close();
    await nats?.stop();
  });

  const track = (vm: Vm): Vm => (vms.push(vm), vm);

  /** The guest's whole console across both machines: every heartbeat once, no memory check failure. */
  function checkConsole(src: Vm, dst: Vm): void {
    const both = src.log + dst.log;
    assert.doesNotMatch(both, /MEMCHECK-FAIL/);
    const beats = heartbeats(both);
    assertConsecutive(beats);
    assert.ok(heartbeats(dst.log).length >= 2, `destination printed ${heartbeats(dst.log).length} heartbeats`);
  }

  it('moves a guest that dirties 20 MiB/s: RAM digest matches, heartbeats continue exactly once, progress on NATS', async () => {
    const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 8, rateMiBs: 20 }));
    const dst = track(src.destination());
    await sleep(300);
    const id = `progress-${Date.now()}`;
    const events: MigrationProgress[] = [];
    const sub = ncB.subscribe(`hn.migration.${id}.progress`, {
      callback: (_e, msg) => events.push(msg.json<MigrationProgress>()),
    });
    await ncB.flush();
    const m = await startMigration(src, dst, ncA, ncB, { id });
    const r = await m.result;
    await ncA.flush();
    await ncB.flush();
    sub.unsubscribe();
    assert.ok(events.some((e) => e.status === 'running' && e.round >= 1 && e.totalBytes === 32 << 20));
    const last = events.at(-1)!;
    assert.equal(last.status, 'completed');
    assert.ok(
      last.downtimeMs! >= 0 && last.transferredBytes > 8 << 20 && last.remainingBytes === 0,
      JSON.stringify(last),
    );
    assert.ok(!(r.source instanceof Error), String(r.source));
    assert.ok(!(r.destination instanceof Error), String(r.destination));
    const s = r.source as SourceResult;
    assert.equal(s.progress.status, 'completed');
    assert.ok(s.converged);
    assert.ok(src.machine.isPaused, 'the source stays paused for its owner to free');
    assert.ok(!dst.machine.isPaused);
    await dst.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+[\s\S]*heartbeat \d+/, 10_000);
    checkConsole(src, dst);
  });

  it('forceComplete switches to stop-and-copy when the guest outruns a tiny downtime limit', async () => {
    const src = track(await dirtierVm({ memoryMiB: 64, wssMiB: 24, rateMiBs: 200 }));
    const dst = track(src.destination());
    // 0.01 ms can never fit, and without auto-converge nothing makes it fit.
    const m = await startMigration(src, dst, ncA, ncB, { source: { downtimeLimitMs: 0.01, autoConverge: false } });
    while (m.source.progress().round < 3) await sleep(20);
    m.source.forceComplete();
    const r = await m.result;
    assert.ok(!(r.source instanceof Error), String(r.source));
    const s = r.source as SourceResult;
    assert.equal(s.converged, false);
    assert.ok(s.rounds >= 3);
    await dst.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+[\s\S]*heartbeat \d+/, 10_000);
    checkConsole(src, dst);
  });

  it('auto-converge throttles a guest that outruns the link until it fits, then lifts the throttle', async () => {
    const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 16, rateMiBs: 200 }));
    const dst = track(src.destination());
    // Without deltas, 16 MiB rewritten 12 times a second outruns a 64 MiB/s link: every round
    // (a quarter of a second, capped) finds all of it rewritten. The final copy is not capped, so
    // the limit is one that no link here drains 16 MiB within (20 ms: 800 MiB/s); only a slower
    // guest fits it.
    const throttles: number[] = [];
    const m = await startMigration(src, dst, ncA, ncB, {
      source: {
        deltaCacheBytes: 0,
        downtimeLimitMs: 20,
        maxBandwidth: 64 << 20,
        throttleInitial: 0.5,
        throttleIncrement: 0.2,
        onProgress: (p) => throttles.push(p.throttle),
      },
    });
    const r = await m.result;
    assert.ok(!(r.source instanceof Error), String(r.source));
    const s = r.source as SourceResult;
    assert.ok(s.converged, 'converged without being forced');
    assert.ok(Math.max(...throttles) >= 0.5, `throttle went ${[...new Set(throttles)].join(' → ')}`);
    assert.equal(s.progress.pages.delta, 0);
    assert.equal(src.machine.throttleFraction, 0);
    assert.equal(dst.machine.throttleFraction, 0, 'the destination runs at full speed');
    await dst.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+[\s\S]*heartbeat \d+/, 10_000);
    checkConsole(src, dst);
  });

  it('abort at the source: the guest runs on at the source, the destination is discarded', async () => {
    const src = track(await dirtierVm({ memoryMiB: 64, wssMiB: 24, rateMiBs: 200 }));
    const dst = track(src.destination());
    const m = await startMigration(src, dst, ncA, ncB, { source: { downtimeLimitMs: 0.01, autoConverge: false } });
    while (m.source.progress().round < 2) await sleep(20);
    assert.ok(m.source.abort('operator said no'));
    const r = await m.result;
    assert.ok(r.source instanceof MigrationError && r.source.code === 'aborted', String(r.source));
    assert.ok(r.destination instanceof MigrationError, String(r.destination));
    assert.equal(m.source.progress().status, 'aborted');
    assert.ok(!src.machine.isPaused);
    assert.ok(dst.machine.isPaused, 'the destination never resumed');
    assert.equal(src.machine.ram.dirtyLogActive, false);
    assert.equal(src.machine.throttleFraction, 0);
    const before = heartbeats(src.log).at(-1)!;
    await src.waitFor(new RegExp(`heartbeat ${before + 3}\\b`), 10_000);
    assert.doesNotMatch(src.log, /MEMCHECK-FAIL/);
    assertConsecutive(heartbeats(src.log));
    assert.equal(heartbeats(dst.log).length, 0);
  });

  it('abort at the destination: the source hears of it and resumes', async () => {
    const src = track(await dirtierVm({ memoryMiB: 64, wssMiB: 24, rateMiBs: 200 }));
    const dst = track(src.destination());
    const m = await startMigration(src, dst, ncA, ncB, { source: { downtimeLimitMs: 0.01, autoConverge: false } });
    while (m.source.progress().round < 2) await sleep(20);
    assert.ok(m.destination.abort('destination host going down'));
    const r = await m.result;
    assert.ok(r.source instanceof MigrationError && r.source.code === 'aborted', String(r.source));
    assert.match(r.source.message, /destination host going down/);
    assert.ok(!src.machine.isPaused);
    const before = heartbeats(src.log).at(-1)!;
    await src.waitFor(new RegExp(`heartbeat ${before + 2}\\b`), 10_000);
    assert.doesNotMatch(src.log, /MEMCHECK-FAIL/);
  });

  it('a destination of another size refuses; a commit hook that throws leaves the guest at the source', async () => {
    const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10 }));
    const wrong = track(new Vm(src.images, 64, { paused: true }));
    const m1 = await startMigration(src, wrong, ncA, ncB);
    const r1 = await m1.result;
    assert.ok(r1.source instanceof MigrationError && r1.source.code === 'refused', String(r1.source));
    assert.match(r1.source.message, /RAM/);
    assert.ok(!src.machine.isPaused);

    const dst = track(src.destination());
    const m2 = await startMigration(src, dst, ncA, ncB, {
      destination: {
        commit: () => {
          throw new Error('instance owner changed meanwhile');
        },
      },
    });
    const r2 = await m2.result;
    assert.ok(r2.source instanceof MigrationError && r2.source.code === 'commit', String(r2.source));
    assert.match(r2.source.message, /owner changed/);
    assert.ok(!src.machine.isPaused, 'the source resumed');
    assert.ok(dst.machine.isPaused, 'the destination never resumed');
    const before = heartbeats(src.log).at(-1)!;
    await src.waitFor(new RegExp(`heartbeat ${before + 2}\\b`), 10_000);
    assertConsecutive(heartbeats(src.log));
  });

  it('commit point: abort cannot interrupt a commit; a lost result is settled by resolveOutcome', async () => {
    // One outcome, set once, as redisOwnership keeps it in Redis.
    let outcome: 'committed' | 'aborted' | undefined;
    const settle = (want: 'committed' | 'aborted'): 'committed' | 'aborted' => (outcome ??= want);
    const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10 }));
    const dst = track(src.destination());
    let aborted: boolean | undefined;
    const m = await startMigration(src, dst, ncA, ncB, {
      source: { resultTimeoutMs: 1000, resolveOutcome: async () => settle('aborted') },
      destination: {
        commit: async () => {
          aborted = m.destination.abort('too late');
          await sleep(200);
          if (settle('committed') !== 'committed') throw new Error('the source gave up first');
        },
        // Every result frame is lost: the source must settle the outcome itself.
        tap: (dir, f) => (dir === 'out' && f[5] === wire.MsgType.Result ? null : undefined),
      },
    });
    const r = await m.result;
    assert.equal(aborted, false);
    assert.ok(!(r.source instanceof Error), String(r.source));
    assert.ok(!(r.destination instanceof Error), String(r.destination));
    assert.equal(outcome, 'committed');
    assert.ok(src.machine.isPaused && !dst.machine.isPaused);
    await dst.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+/, 10_000);
    checkConsole(src, dst);
  });

  it('two migrations at once, each on its own subjects', async () => {
    const [a, b] = [
      track(await dirtierVm({ memoryMiB: 32, wssMiB: 8, rateMiBs: 20 })),
      track(await dirtierVm({ memoryMiB: 48, wssMiB: 16, rateMiBs: 50 })),
    ];
    const [a2, b2] = [track(a.destination()), track(b.destination())];
    const [ma, mb] = await Promise.all([startMigration(a, a2, ncA, ncB), startMigration(b, b2, ncB, ncA)]);
    const [ra, rb] = await Promise.all([ma.result, mb.result]);
    for (const r of [ra, rb]) {
      assert.ok(!(r.source instanceof Error), String(r.source));
      assert.ok(!(r.destination instanceof Error), String(r.destination));
    }
    await Promise.all([a2, b2].map((d) => d.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+[\s\S]*heartbeat \d+/, 10_000)));
    checkConsole(a, a2);
    checkConsole(b, b2);
  });
});
