// Migrations through a hostile or failing transport: frames lost, corrupted, replayed and forged
// (injected through the transport's test tap and by publishing on the migration's subjects), a
// destination with the wrong key, and nats-server restarted or gone mid-transfer. The guest's RAM must arrive intact (digest checked)
// or the migration must fail with the guest still running at the source, nothing lost.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from 'nats';
import { MigrationError, wire, type SourceResult } from '../../src/migration/index.js';
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

describe('migration: faults', function () {
  this.timeout(180_000);
  const vms: Vm[] = [];
  const track = (vm: Vm): Vm => (vms.push(vm), vm);
  afterEach(() => {
    for (const vm of vms.splice(0)) vm.stop();
  });

  /** Sequence number and type of a frame on the wire (the header is not checked here). */
  const peek = (f: Uint8Array): { seq: number; type: number } => {
    const b = Buffer.from(f.buffer, f.byteOffset, f.byteLength);
    return { type: b.readUInt8(5), seq: b.readUInt32LE(12) };
  };

  describe('with a running nats-server', () => {
    let nats: InfraServer;
    let ncA: NatsConnection;
    let ncB: NatsConnection;
    before(async () => {
      nats = await (await harness()).startNats();
      ncA = await natsConnection(nats.url, 'node-a');
      ncB = await natsConnection(nats.url, 'node-b');
    });
    after(async () => {
      await ncA?.close();
      await ncB?.close();
      await nats?.stop();
    });

    it('lost, corrupted, replayed and forged frames are detected, resent or ignored, and counted', async () => {
      const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 8, rateMiBs: 20 }));
      const dst = track(src.destination());
      const id = `faults-${Date.now()}`;
      const prefix = `hn.migration.${id}`;
      const seen = new Set<string>();
      const once = (key: string): boolean => !seen.has(key) && (seen.add(key), true);
      let captured: Uint8Array | undefined;
      let capturedCredit: Uint8Array | undefined;
      let endDropped = false;
      const m = await startMigration(src, dst, ncA, ncB, {
        id,
        source: {
          rtoMs: 200,
          tap: (dir, f) => {
            if (dir !== 'out') return undefined;
            const { seq, type } = peek(f);
            if (type === wire.MsgType.Pages && seq === 3 && !captured) captured = Uint8Array.from(f);
            // Lose frames 5 and 17 the first time they go out (a slow consumer's drop).
            if ((seq === 5 || seq === 17) && type === wire.MsgType.Pages && once(`drop${seq}`)) return null;
            // Flip a bit in frame 9's body the first time.
            if (seq === 9 && type === wire.MsgType.Pages && once('corrupt9')) {
              const bad = Uint8Array.from(f);
              bad[bad.length - 100]! ^= 0x40;
              return bad;
            }
            // Lose the last frame once: only the retransmission timer can notice.
            if (type === wire.MsgType.End && !endDropped) {
              endDropped = true;
              return null;
            }
            return undefined;
          },
        },
        destination: {
          tap: (dir, f) => {
            if (dir !== 'out') return undefined;
            const { seq, type } = peek(f);
            if (type === wire.MsgType.Credit && !capturedCredit) capturedCredit = Uint8Array.from(f);
            // Lose a credit now and then: later credits cover for it.
            if (type === wire.MsgType.Credit && seq % 5 === 0 && once(`credit${seq}`)) return null;
            return undefined;
          },
        },
      });
      // Meanwhile, on the migration's own subjects: a replay of an old frame, frames of another
      // migration, one sealed with another key, a truncated one, and an old credit sent again.
      const forger = await natsConnection(nats.url, 'forger');
      const other = new wire.Channel({ id: 'some-other-migration', key: randomBytes(32), role: 'source' });
      const wrongKey = new wire.Channel({ id, key: randomBytes(32), role: 'source' });
      for (let i = 0; !captured || !capturedCredit; i++) {
        assert.ok(i < 2000, 'no frames to replay went by');
        await sleep(5);
      }
      forger.publish(`${prefix}.data`, captured);
      forger.publish(`${prefix}.data`, other.encode(wire.MsgType.Pages, 1_000_000, Buffer.alloc(16)));
      forger.publish(`${prefix}.data`, other.encodeJson(wire.MsgType.Abort, 1_000_000, { reason: 'forged' }));
      forger.publish(`${prefix}.data`, wrongKey.encodeJson(wire.MsgType.Abort, 1_000_001, { reason: 'forged' }));
      forger.publish(`${prefix}.data`, captured.subarray(0, captured.length - 1));
      forger.publish(`${prefix}.ctl`, capturedCredit);
      forger.publish(`${prefix}.ctl`, Buffer.from('not a frame at all'));
      await forger.flush();
      await forger.close();

      const r = await m.result;
      assert.ok(!(r.source instanceof Error), String(r.source));
      assert.ok(!(r.destination instanceof Error), String(r.destination));
      const s = r.source as SourceResult;
      const d = r.destination as { rejected: { forged: number; corrupt: number; replayed: number } };
      assert.ok(s.progress.retransmits >= 3, `retransmits ${s.progress.retransmits}`);
      // Forged: another migration's two, the wrong key's, and the bit flipped in frame 9.
      assert.ok(d.rejected.forged >= 4, `destination forged ${JSON.stringify(d.rejected)}`);
      assert.ok(d.rejected.corrupt >= 1, `destination corrupt ${JSON.stringify(d.rejected)}`);
      assert.ok(d.rejected.replayed >= 1, `destination replayed ${JSON.stringify(d.rejected)}`);
      assert.ok(
        s.progress.rejected.replayed >= 1 && s.progress.rejected.corrupt >= 1,
        `source ${JSON.stringify(s.progress.rejected)}`,
      );
      await dst.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+/, 10_000);
      assert.doesNotMatch(src.log + dst.log, /MEMCHECK-FAIL/);
      assertConsecutive(heartbeats(src.log + dst.log));
    });

    it('forged and replayed frames are refused and counted while the guest runs on at the source', async () => {
      const src = track(await dirtierVm({ memoryMiB: 64, wssMiB: 32, rateMiBs: 20 }));
      const dst = track(src.destination());
      const id = `hostile-${Date.now()}`;
      const prefix = `hn.migration.${id}`;
      const sent: Uint8Array[] = [];
      const received: Uint8Array[] = [];
      // A capped stream keeps the first pass going while the forger works.
      const m = await startMigration(src, dst, ncA, ncB, {
        id,
        source: {
          maxBandwidth: 16 << 20,
          tap: (dir, f) => void (dir === 'out' ? sent : received).push(Uint8Array.from(f.subarray(0, 4096))),
        },
      });
      const full = (f: Uint8Array): boolean => f.length < 4096;
      while (m.source.progress().transferredBytes < 4 << 20) await sleep(10);
      const hello = sent.find((f) => peek(f).type === wire.MsgType.Hello && full(f))!;
      const credit = received.find((f) => peek(f).type === wire.MsgType.Credit)!;
      const ready = received.find((f) => peek(f).type === wire.MsgType.Ready)!;
      const forger = await natsConnection(nats.url, 'forger');
      const wrongKey = (role: 'source' | 'destination') => new wire.Channel({ id, key: randomBytes(32), role });
      // Forged: an Abort to each side and a Result claiming the commit, under a key of their own.
      forger.publish(`${prefix}.data`, wrongKey('source').encodeJson(wire.MsgType.Abort, 1 << 30, { reason: 'x' }));
      const toSource = wrongKey('destination');
      forger.publish(`${prefix}.ctl`, toSource.encodeJson(wire.MsgType.Abort, 1 << 30, { reason: 'x' }));
      forger.publish(`${prefix}.ctl`, toSource.encodeJson(wire.MsgType.Result, 2 ** 31, { committed: true }));
      // Replayed: the Hello, the first credit and the Ready, each once genuine.
      for (const f of [hello, credit, ready]) forger.publish(`${prefix}.${f === hello ? 'data' : 'ctl'}`, f);
      await forger.flush();
      await forger.close();
      await sleep(300);
      const s = m.source.progress();
      assert.equal(s.status, 'running');
      assert.ok(!src.machine.isPaused, 'the guest runs at the source');
      assert.deepEqual([s.rejected.forged, s.rejected.corrupt], [2, 0], 'at the source');
      assert.ok(s.rejected.replayed >= 2, `source replayed ${s.rejected.replayed}`);
      const d = m.destination.rejected;
      assert.deepEqual([d.forged, d.corrupt], [1, 0], 'at the destination');
      assert.ok(d.replayed >= 1, `destination replayed ${d.replayed}`);
      // The migration is unharmed: it completes, the guest intact.
      m.source.setMaxBandwidth(0);
      const r = await m.result;
      assert.ok(!(r.source instanceof Error), String(r.source));
      assert.ok(!(r.destination instanceof Error), String(r.destination));
      await dst.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+/, 10_000);
      assert.doesNotMatch(src.log + dst.log, /MEMCHECK-FAIL/);
      assertConsecutive(heartbeats(src.log + dst.log));
    });

    it('a destination with the wrong key: the migration fails cleanly, the guest runs on at the source', async () => {
      const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 8, rateMiBs: 10 }));
      const dst = track(src.destination());
      const m = await startMigration(src, dst, ncA, ncB, {
        source: { helloTimeoutMs: 1000 },
        destination: { key: randomBytes(32) },
      });
      // The destination hears nothing it can trust, so it says nothing: the source gives up.
      for (let i = 0; m.source.progress().status !== 'failed'; i++) {
        assert.ok(i < 500, `still ${m.source.progress().status}`);
        await sleep(10);
      }
      assert.ok(m.destination.rejected.forged >= 1, 'the Hellos were refused');
      m.destination.abort('test over');
      const r = await m.result;
      assert.ok(r.source instanceof MigrationError && r.source.code === 'timeout', String(r.source));
      assert.ok(!src.machine.isPaused && !src.machine.ram.dirtyLogActive);
      const before = heartbeats(src.log).at(-1)!;
      await src.waitFor(new RegExp(`heartbeat ${before + 2}\\b`), 10_000);
    });

    it('Prepare goes out before the pause; a lost Prepared only costs a short wait', async () => {
      const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 8, rateMiBs: 10 }));
      const dst = track(src.destination());
      const sent: number[] = [];
      let preparedDropped = 0;
      const m = await startMigration(src, dst, ncA, ncB, {
        source: { tap: (dir, f) => void (dir === 'out' && sent.push(peek(f).type)) },
        destination: {
          tap: (dir, f) => {
            if (dir === 'out' && peek(f).type === wire.MsgType.Prepared) {
              preparedDropped++;
              return null;
            }
            return undefined;
          },
        },
      });
      const r = await m.result;
      assert.ok(!(r.source instanceof Error), String(r.source));
      assert.ok(!(r.destination instanceof Error), String(r.destination));
      assert.equal(preparedDropped, 1, 'the destination answered the one Prepare');
      const prepare = sent.indexOf(wire.MsgType.Prepare);
      assert.ok(
        prepare >= 0 && prepare < sent.indexOf(wire.MsgType.State),
        `Prepare before the state: ${sent.slice(-6).join(',')}`,
      );
      await dst.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+/, 10_000);
      assertConsecutive(heartbeats(src.log + dst.log));
    });

    it('nats-server restarted mid-transfer: the transfer resumes and completes', async () => {
      const src = track(await dirtierVm({ memoryMiB: 64, wssMiB: 32, rateMiBs: 20 }));
      const dst = track(src.destination());
      // A capped stream keeps the first pass going for ~2 s, long enough to restart under it.
      const m = await startMigration(src, dst, ncA, ncB, { source: { maxBandwidth: 16 << 20, rtoMs: 200 } });
      while (m.source.progress().transferredBytes < 8 << 20) await sleep(10);
      await nats.restart();
      const r = await m.result;
      assert.ok(!(r.source instanceof Error), String(r.source));
      assert.ok(!(r.destination instanceof Error), String(r.destination));
      assert.ok((r.source as SourceResult).progress.retransmits > 0, 'frames lost in the restart were resent');
      await dst.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+/, 10_000);
      assert.doesNotMatch(src.log + dst.log, /MEMCHECK-FAIL/);
      assertConsecutive(heartbeats(src.log + dst.log));
    });
  });

  it('nats-server gone for good mid-transfer: fails cleanly, the guest runs on at the source and migrates later', async () => {
    const h = await harness();
    const nats = await h.startNats();
    const ncA = await natsConnection(nats.url, 'node-a');
    const ncB = await natsConnection(nats.url, 'node-b');
    const src = track(await dirtierVm({ memoryMiB: 64, wssMiB: 32, rateMiBs: 20 }));
    const dst = track(src.destination());
    const m = await startMigration(src, dst, ncA, ncB, {
      source: { maxBandwidth: 16 << 20, stallTimeoutMs: 1500, rtoMs: 200 },
      destination: { stallTimeoutMs: 1500 },
    });
    while (m.source.progress().transferredBytes < 8 << 20) await sleep(10);
    await nats.stop();
    const r = await m.result;
    assert.ok(r.source instanceof MigrationError && r.source.code === 'stalled', String(r.source));
    assert.ok(r.destination instanceof MigrationError, String(r.destination));
    assert.ok(!src.machine.isPaused && dst.machine.isPaused);
    assert.equal(src.machine.ram.dirtyLogActive, false);
    const before = heartbeats(src.log).at(-1)!;
    await src.waitFor(new RegExp(`heartbeat ${before + 3}\\b`), 10_000);
    await ncA.close();
    await ncB.close();

    // Nothing was lost: the same guest migrates fine over a new server (RAM digest checked).
    const nats2 = await h.startNats();
    const ncC = await natsConnection(nats2.url, 'node-a');
    const ncD = await natsConnection(nats2.url, 'node-c');
    try {
      const dst2 = track(src.destination());
      const r2 = await (await startMigration(src, dst2, ncC, ncD)).result;
      assert.ok(!(r2.source instanceof Error), String(r2.source));
      await dst2.waitFor(/heartbeat \d+[\s\S]*heartbeat \d+/, 10_000);
      assert.doesNotMatch(src.log + dst2.log, /MEMCHECK-FAIL/);
      assertConsecutive(heartbeats(src.log + dst2.log));
    } finally {
      await ncC.close();
      await ncD.close();
      await nats2.stop();
    }
  });
});
