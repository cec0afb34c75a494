import assert from 'node:assert/strict';
import { Mip } from '../../src/cpu/mip.js';
import { Plic, PlicReg } from '../../src/devices/plic/plic.js';
import { PLIC_STATE_VERSION } from '../../src/devices/plic/persist.js';
import { StateError } from '../../src/state/section.js';
import { FakePins, viaJson } from './fakes.js';

const M = 0;
const S = 1;
const prio = (id: number) => PlicReg.PRIORITY + 4 * id;
const enableReg = (ctx: number, word = 0) => PlicReg.ENABLE + PlicReg.ENABLE_STRIDE * ctx + 4 * word;
const thresholdReg = (ctx: number) => PlicReg.CONTEXT + PlicReg.CONTEXT_STRIDE * ctx + PlicReg.THRESHOLD;
const claimReg = (ctx: number) => PlicReg.CONTEXT + PlicReg.CONTEXT_STRIDE * ctx + PlicReg.CLAIM_COMPLETE;

function setup() {
  const pins = new FakePins();
  const plic = new Plic(pins);
  const enable = (ctx: number, ...ids: number[]) => {
    for (const id of ids) {
      const reg = enableReg(ctx, id >>> 5);
      plic.write(reg, 4, plic.read(reg, 4) | (1 << (id & 31)));
    }
  };
  const claim = (ctx: number) => plic.read(claimReg(ctx), 4);
  const complete = (ctx: number, id: number) => plic.write(claimReg(ctx), 4, id);
  return { pins, plic, enable, claim, complete };
}

describe('PLIC', () => {
  it('keeps priorities 0..7 per source, source 0 hard-wired to 0', () => {
    const { plic } = setup();
    plic.write(prio(5), 4, 0xff);
    assert.equal(plic.read(prio(5), 4), 7);
    plic.write(prio(0), 4, 3);
    assert.equal(plic.read(prio(0), 4), 0);
    plic.write(prio(95), 4, 2);
    assert.equal(plic.read(prio(95), 4), 2);
  });

  it('shows levels as pending bits, which are read-only', () => {
    const { plic } = setup();
    plic.line(10).set(true);
    plic.line(33).set(true);
    plic.line(95).set(true);
    assert.equal(plic.read(PlicReg.PENDING, 4), 1 << 10);
    assert.equal(plic.read(PlicReg.PENDING + 4, 4), 1 << 1);
    assert.equal(plic.read(PlicReg.PENDING + 8, 4), (1 << 31) >>> 0);
    plic.write(PlicReg.PENDING, 4, 0);
    assert.equal(plic.read(PlicReg.PENDING, 4), 1 << 10);
    plic.line(10).set(false);
    assert.equal(plic.read(PlicReg.PENDING, 4), 0, 'an unclaimed request follows its level');
  });

  it('only accepts lines 1..95', () => {
    const { plic } = setup();
    assert.throws(() => plic.line(0), RangeError);
    assert.throws(() => plic.line(96), RangeError);
  });

  it('routes context 0 to MEIP and context 1 to SEIP, per enables', () => {
    const { plic, pins, enable } = setup();
    plic.write(prio(10), 4, 1);
    plic.line(10).set(true);
    assert.equal(pins.mip, 0, 'not enabled anywhere');
    enable(S, 10);
    assert.equal(pins.mip, Mip.SEIP);
    enable(M, 10);
    assert.equal(pins.mip, Mip.SEIP | Mip.MEIP);
    plic.write(enableReg(S), 4, 0);
    assert.equal(pins.mip, Mip.MEIP);
    assert.equal(plic.read(enableReg(M), 4), 1 << 10);
  });

  it('cannot enable source 0 and ignores contexts it does not have', () => {
    const { plic } = setup();
    plic.write(enableReg(M), 4, 0xffff_ffff);
    assert.equal(plic.read(enableReg(M), 4), 0xffff_fffe);
    plic.write(enableReg(2), 4, 1 << 4);
    assert.equal(plic.read(enableReg(2), 4), 0);
    assert.equal(plic.read(claimReg(2), 4), 0);
  });

  it('never signals priority 0 or priorities at or below the threshold', () => {
    const { plic, pins, enable, claim } = setup();
    enable(M, 3);
    plic.line(3).set(true);
    assert.equal(pins.mip, 0, 'priority 0 means never');
    plic.write(prio(3), 4, 4);
    assert.equal(pins.mip, Mip.MEIP);
    plic.write(thresholdReg(M), 4, 4);
    assert.equal(plic.read(thresholdReg(M), 4), 4);
    assert.equal(pins.mip, 0);
    assert.equal(claim(M), 0, 'nothing above the threshold to claim');
    plic.write(thresholdReg(M), 4, 3);
    assert.equal(claim(M), 3);
  });

  it('claims the highest priority first, ties going to the lowest id', () => {
    const { plic, enable, claim } = setup();
    for (const [id, p] of [
      [40, 2],
      [7, 5],
      [9, 5],
      [64, 7],
      [2, 1],
    ] as const) {
      plic.write(prio(id), 4, p);
      enable(S, id);
      plic.line(id).set(true);
    }
    assert.deepEqual([claim(S), claim(S), claim(S), claim(S), claim(S), claim(S)], [64, 7, 9, 40, 2, 0]);
  });

  it('holds a claimed source until completion, then looks at the level again', () => {
    const { plic, pins, enable, claim, complete } = setup();
    plic.write(prio(10), 4, 1);
    enable(M, 10);
    const line = plic.line(10);
    line.set(true);
    assert.equal(claim(M), 10);
    assert.equal(plic.read(PlicReg.PENDING, 4), 0, 'claiming clears pending');
    assert.equal(pins.mip, 0);
    line.set(false);
    line.set(true);
    assert.equal(pins.mip, 0, 'a claimed source is not re-pended');
    assert.equal(claim(M), 0);
    complete(M, 10);
    assert.equal(pins.mip, Mip.MEIP, 'still high at completion: pending again');
    assert.equal(claim(M), 10);
    line.set(false);
    complete(M, 10);
    assert.equal(pins.mip, 0, 'low at completion: nothing more');
    assert.equal(plic.read(PlicReg.PENDING, 4), 0);
  });

  it('ignores completion of a source that is not claimed', () => {
    const { plic, pins, enable, complete } = setup();
    plic.write(prio(5), 4, 1);
    enable(M, 5);
    plic.line(5).set(true);
    complete(M, 5);
    complete(M, 0);
    complete(M, 200);
    assert.equal(pins.mip, Mip.MEIP);
    assert.equal(plic.read(PlicReg.PENDING, 4), 1 << 5);
  });

  it('gives each hart its own M and S contexts', () => {
    const h0 = new FakePins();
    const h1 = new FakePins();
    const plic = new Plic([h0, h1]);
    plic.write(prio(1), 4, 1);
    plic.write(enableReg(3), 4, 1 << 1); // hart 1, S-mode
    plic.line(1).set(true);
    assert.equal(h0.mip, 0);
    assert.equal(h1.mip, Mip.SEIP);
  });

  it('saves and restores priorities, enables, thresholds and in-flight claims', () => {
    const a = setup();
    a.plic.write(prio(10), 4, 3);
    a.plic.write(prio(1), 4, 2);
    a.plic.write(prio(2), 4, 6);
    a.plic.write(thresholdReg(S), 4, 1);
    a.enable(S, 10, 1);
    a.enable(M, 2);
    a.plic.line(10).set(true);
    a.plic.line(1).set(true);
    assert.equal(a.claim(S), 10); // in flight, level still high
    const section = viaJson(a.plic.saveState());
    assert.equal(section.name, 'plic');
    assert.equal(section.version, PLIC_STATE_VERSION);

    const b = setup();
    b.plic.restoreState(section);
    assert.equal(b.pins.mip, a.pins.mip, 'outputs re-driven');
    assert.deepEqual(b.plic.saveState(), a.plic.saveState());
    for (const p of [a, b]) {
      assert.equal(p.claim(S), 1);
      p.complete(S, 10);
      assert.equal(p.claim(S), 10, 'the restored claim completes and re-pends like the original');
      p.plic.line(2).set(true);
      assert.equal(p.claim(M), 2);
    }
    assert.equal(b.pins.mip, a.pins.mip);
  });

  it('refuses sections of the wrong device, version or shape', () => {
    const { plic } = setup();
    const s = plic.saveState();
    assert.throws(() => plic.restoreState({ ...s, name: 'uart0' }), StateError);
    assert.throws(() => plic.restoreState({ ...s, version: 2 }), StateError);
    assert.throws(() => plic.restoreState({ ...s, data: { ...s.data, enable: [[0, 0, 0]] } }), /2 contexts/);
  });

  it('resets to power-on state on reboot, a line still high pending again', () => {
    const { plic, pins, enable, claim } = setup();
    plic.write(prio(3), 4, 5);
    plic.write(prio(4), 4, 5);
    enable(S, 3, 4);
    plic.line(3).set(true);
    plic.line(4).set(true);
    assert.equal(claim(S), 3); // 3 in flight, 4 pending
    plic.line(3).set(false);
    plic.write(thresholdReg(S), 4, 2);
    plic.reset();
    assert.ok(!pins.has(Mip.SEIP), 'nothing enabled');
    assert.equal(plic.read(prio(3), 4), 0);
    assert.equal(plic.read(enableReg(S), 4), 0);
    assert.equal(plic.read(thresholdReg(S), 4), 0);
    assert.equal(plic.read(PlicReg.PENDING, 4), 1 << 4, 'only the line still high');
    // The new boot sets up the source again: it is claimable, and nothing is stuck in flight.
    plic.write(prio(3), 4, 1);
    plic.write(prio(4), 4, 1);
    enable(S, 3, 4);
    assert.ok(pins.has(Mip.SEIP));
    assert.equal(claim(S), 4);
    plic.line(3).set(true);
    assert.equal(claim(S), 3);
  });
});
