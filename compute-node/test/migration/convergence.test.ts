// When to switch over, and how the policy escalates when the guest outruns the link.
import { strict as assert } from 'node:assert';
import { BandwidthMeter, Convergence, DEFAULT_CONVERGENCE, type RoundReport } from '../../src/migration/convergence.js';

const MiB = 1 << 20;
const round = (n: number, remaining: number, extra: Partial<RoundReport> = {}): RoundReport => ({
  round: n,
  remainingWireBytes: remaining,
  remainingCpuMs: 0,
  bandwidth: 100 * MiB,
  linkLimited: false,
  deflateRatio: 1,
  overheadMs: 1,
  ...extra,
});

describe('migration convergence', () => {
  it('keeps iterating while rounds shrink the pause, switches once it is minimal or stops shrinking', () => {
    const c = new Convergence({ ...DEFAULT_CONVERGENCE });
    assert.equal(c.afterRound(round(1, 64 * MiB)).switchOver, false); // 641 ms > 300 ms
    const d2 = c.afterRound(round(2, 20 * MiB)); // 201 ms: fits, but the next round will be smaller
    assert.deepEqual([d2.switchOver, Math.round(d2.expectedDowntimeMs)], [false, 201]);
    assert.equal(c.afterRound(round(3, 5 * MiB)).switchOver, false);
    // No longer shrinking: the sender gets a larger share of the loop twice, then it switches.
    assert.equal(c.afterRound(round(4, 4.5 * MiB)).switchOver, false);
    assert.equal(c.afterRound(round(5, 4.4 * MiB)).switchOver, false);
    assert.equal(c.pumpBudgetMs, 16);
    assert.equal(c.afterRound(round(6, 4.3 * MiB)).switchOver, true);
    const d = new Convergence({ ...DEFAULT_CONVERGENCE });
    assert.equal(d.afterRound(round(1, 100 * 1024)).switchOver, true); // ~2 ms: as good as it gets
  });

  it('escalates when not converging: sender share, deflate on a capped link, then CPU throttle to 99 %', () => {
    const c = new Convergence({ ...DEFAULT_CONVERGENCE });
    c.afterRound(round(1, 100 * MiB));
    c.afterRound(round(2, 100 * MiB));
    c.afterRound(round(3, 100 * MiB));
    assert.equal(c.pumpBudgetMs, 16);
    assert.equal(c.throttle, 0);
    c.afterRound(round(4, 100 * MiB, { linkLimited: true }));
    assert.equal(c.deflate, true);
    c.afterRound(round(5, 100 * MiB, { deflateRatio: 0.95 }));
    assert.equal(c.deflate, false, 'deflate that does not pay is dropped');
    assert.equal(c.throttle, 0.2);
    for (let i = 6; i < 20; i++) c.afterRound(round(i, 100 * MiB));
    assert.equal(c.throttle, 0.99);
    const off = new Convergence({ ...DEFAULT_CONVERGENCE, autoConverge: false });
    for (let i = 1; i < 10; i++) off.afterRound(round(i, 100 * MiB));
    assert.deepEqual([off.throttle, off.pumpBudgetMs], [0, 4]);
  });

  it('measures bandwidth over the time frames were in flight only', () => {
    const m = new BandwidthMeter();
    m.busy(true, 0);
    m.acked(10 * MiB);
    m.busy(false, 100); // 10 MiB in 100 ms
    m.busy(true, 5000); // a long idle gap does not count
    m.acked(10 * MiB);
    m.busy(false, 5100);
    assert.equal(Math.round(m.sample(6000) / MiB), 100);
  });

  it('weighs bandwidth samples by their size and ages them by volume: small slow rounds barely move it', () => {
    const m = new BandwidthMeter();
    const round = (at: number, mib: number, ms: number): number => {
      m.busy(true, at);
      m.acked(mib * MiB);
      m.busy(false, at + ms);
      return Math.round(m.sample(at + ms) / MiB);
    };
    assert.equal(round(0, 32, 100), 320);
    // Rounds too short to fill the pipe (50 MiB/s) count for their bytes and time: averaging
    // rates would say 185, then 118.
    assert.equal(round(200, 1, 20), 273);
    assert.equal(round(300, 1, 20), 239);
    // A large round is most of the estimate: what the link does now (160 MiB/s).
    assert.equal(round(400, 32, 200), 171);
  });
});
