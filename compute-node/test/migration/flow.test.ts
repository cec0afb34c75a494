// The credit window, go-back-N resends and the rate limiter, without a network.
import { strict as assert } from 'node:assert';
import { RateLimiter, ReceiveWindow, SendWindow } from '../../src/migration/flow.js';
import type { MigrationError } from '../../src/migration/types.js';

describe('migration flow control', () => {
  function sender(opts = { rtoMs: 50, stallTimeoutMs: 300 }) {
    const resent: number[] = [];
    const released: Buffer[] = [];
    let acked = 0;
    let stalled: MigrationError | undefined;
    const w = new SendWindow(
      opts,
      (f) => resent.push(f.readUInt32LE(0)),
      (b) => (acked += b),
      (f) => released.push(f),
      (e) => (stalled = e),
    );
    const send = (): void => {
      const f = Buffer.alloc(100);
      f.writeUInt32LE(w.nextSeq, 0);
      w.track(f);
    };
    return { w, resent, released, send, acked: () => acked, stalled: () => stalled };
  }

  it('never sends past the credit; credits release frames and wake the sender', async () => {
    const s = sender();
    s.w.open(2);
    await s.w.waitForCredit();
    s.send();
    s.send();
    let woke = false;
    const waiting = s.w.waitForCredit().then(() => (woke = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(woke, false);
    s.w.onCredit(1, 3);
    await waiting;
    assert.equal(s.acked(), 100);
    assert.equal(s.released.length, 1);
    s.w.onCredit(99, 200); // acknowledges frames never sent: ignored
    assert.equal(s.w.lastAcked, 1);
    s.w.close();
  });

  it('a NACK resends from the missing frame once; silence resends after the RTO; then it stalls', async () => {
    const s = sender();
    s.w.open(10);
    for (let i = 0; i < 5; i++) s.send();
    s.w.onNack(3);
    assert.deepEqual(s.resent, [3, 4, 5]);
    assert.equal(s.w.lastAcked, 2);
    s.w.onNack(3); // the frames after the loss keep coming: no second go-back
    assert.deepEqual(s.resent, [3, 4, 5]);
    await new Promise((r) => setTimeout(r, 120));
    assert.ok(s.resent.length > 3, 'retransmission timer');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(s.stalled()?.code, 'stalled');
    s.w.fail(s.stalled()!);
    await assert.rejects(s.w.waitForCredit(), /no acknowledgement/);
  });

  it('releases an acknowledged frame for reuse only if it went out once (a resent copy may still be queued)', () => {
    const s = sender();
    s.w.open(10);
    for (let i = 0; i < 4; i++) s.send();
    s.w.onNack(3);
    assert.deepEqual(s.resent, [3, 4]);
    s.w.onCredit(4, 14);
    assert.deepEqual(
      s.released.map((f) => f.readUInt32LE(0)),
      [1, 2],
    );
    assert.equal(s.acked(), 400);
    s.w.close();
  });

  it('the receiver applies in order, NACKs a gap once per interval, and credits every quarter window', () => {
    const r = new ReceiveWindow(8, 100);
    assert.equal(r.limit, 8);
    assert.equal(r.classify(1), 'next');
    assert.equal(r.applied(), false);
    assert.equal(r.applied(), true); // 2 of 8
    assert.equal(r.classify(2), 'old');
    assert.equal(r.classify(5), 'gap');
    assert.equal(r.shouldNack(0), true);
    assert.equal(r.shouldNack(50), false);
    assert.equal(r.shouldNack(150), true);
    assert.equal(r.limit, 10);
  });

  it('the rate limiter holds a sender to its bytes per second', async () => {
    const l = new RateLimiter(1_000_000);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) {
      await l.ready();
      l.consume(20_000);
    }
    const ms = performance.now() - t0;
    assert.ok(ms >= 100 && ms < 1000, `${ms} ms for 200 kB at 1 MB/s`);
  });
});
