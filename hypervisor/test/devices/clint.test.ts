import assert from 'node:assert/strict';
import { Mip } from '../../src/cpu/mip.js';
import { Clint, ClintReg, hi32, join64, lo32 } from '../../src/devices/clint/clint.js';
import { CLINT_STATE_VERSION } from '../../src/devices/clint/persist.js';
import { StateError } from '../../src/state/section.js';
import { FakeClock, FakePins, viaJson } from './fakes.js';

function setup(ticks = 0) {
  const clock = new FakeClock(ticks);
  const pins = new FakePins();
  return { clock, pins, clint: new Clint(clock, pins) };
}

describe('CLINT', () => {
  it('splits and joins 64-bit values, with 2^53 and above as Infinity', () => {
    assert.equal(lo32(0x1_2345_6789), 0x2345_6789);
    assert.equal(hi32(0x1_2345_6789), 1);
    assert.equal(join64(0x2345_6789, 1), 0x1_2345_6789);
    assert.equal(join64(0xffff_ffff, 0x1f_ffff), Number.MAX_SAFE_INTEGER);
    assert.equal(join64(0, 0x20_0000), Infinity);
    assert.equal(join64(0xffff_ffff, 0xffff_ffff), Infinity);
  });

  it('drives MSIP from bit 0 of msip', () => {
    const { clint, pins } = setup();
    clint.write(ClintReg.MSIP, 4, 0xffff_ffff);
    assert.equal(clint.read(ClintReg.MSIP, 4), 1);
    assert.ok(pins.has(Mip.MSIP));
    clint.write(ClintReg.MSIP, 4, 0);
    assert.ok(!pins.has(Mip.MSIP));
  });

  it('reads mtime from the clock in two halves', () => {
    const { clint } = setup(0x1_2345_6789);
    assert.equal(clint.read(ClintReg.MTIME_LO, 4), 0x2345_6789);
    assert.equal(clint.read(ClintReg.MTIME_HI, 4), 1);
  });

  it('resets mtimecmp to all ones, which never fires', () => {
    const { clint, pins, clock } = setup(Number.MAX_SAFE_INTEGER);
    assert.equal(clint.read(ClintReg.MTIMECMP_LO, 4), 0xffff_ffff);
    assert.equal(clint.read(ClintReg.MTIMECMP_HI, 4), 0xffff_ffff);
    clint.update();
    assert.ok(!pins.has(Mip.MTIP));
    assert.equal(clint.nextDeadline(), Infinity);
    clock.ticks = 5;
    assert.equal(clint.nextDeadline(), Infinity);
  });

  it('updates MTIP at once when mtimecmp is written', () => {
    const { clint, pins } = setup(1000);
    clint.write(ClintReg.MTIMECMP_HI, 4, 0);
    clint.write(ClintReg.MTIMECMP_LO, 4, 1000);
    assert.ok(pins.has(Mip.MTIP), 'mtime >= mtimecmp');
    clint.write(ClintReg.MTIMECMP_LO, 4, 1001);
    assert.ok(!pins.has(Mip.MTIP), 'a later compare value clears it');
  });

  it('compares the high words: 0x1_0000_0000 is not reached at 0xffff_ffff', () => {
    const { clint, pins, clock } = setup(0xffff_ffff);
    clint.write(ClintReg.MTIMECMP_LO, 4, 0);
    clint.write(ClintReg.MTIMECMP_HI, 4, 1);
    assert.ok(!pins.has(Mip.MTIP));
    assert.equal(clint.nextDeadline(), 0x1_0000_0000);
    clock.ticks = 0x1_0000_0000;
    clint.update();
    assert.ok(pins.has(Mip.MTIP));
  });

  it('raises MTIP once on the edge when update() sees time pass, and gives deadlines', () => {
    const { clint, pins, clock } = setup(0);
    clint.write(ClintReg.MTIMECMP_HI, 4, 0);
    clint.write(ClintReg.MTIMECMP_LO, 4, 500);
    assert.equal(clint.nextDeadline(), 500);
    pins.calls = [];
    clock.ticks = 499;
    clint.update();
    assert.deepEqual(pins.calls, []);
    clock.ticks = 500;
    clint.update();
    clint.update();
    clock.ticks = 800;
    clint.update();
    assert.deepEqual(pins.calls, [[Mip.MTIP, true]], 'driven once, on the edge');
    assert.equal(clint.nextDeadline(), Infinity, 'already pending: nothing to wait for');
  });

  it('re-bases the clock when mtime is written, keeping the other half', () => {
    const { clint, clock, pins } = setup(0x2_0000_0010);
    clint.write(ClintReg.MTIME_LO, 4, 0x100);
    assert.equal(clock.now(), 0x2_0000_0100);
    clint.write(ClintReg.MTIME_HI, 4, 0);
    assert.equal(clock.now(), 0x100);
    clint.write(ClintReg.MTIMECMP_HI, 4, 0);
    clint.write(ClintReg.MTIMECMP_LO, 4, 0x200);
    clint.write(ClintReg.MTIME_LO, 4, 0x300);
    assert.ok(pins.has(Mip.MTIP), 'writing mtime past mtimecmp raises MTIP');
  });

  it('ignores sub-word and unknown accesses', () => {
    const { clint, pins } = setup();
    clint.write(ClintReg.MSIP, 1, 1);
    clint.write(ClintReg.MSIP, 2, 1);
    assert.ok(!pins.has(Mip.MSIP));
    assert.equal(clint.read(ClintReg.MTIMECMP_LO, 2), 0);
    assert.equal(clint.read(0x4, 4), 0);
  });

  it('saves and restores msip, mtimecmp and mtime, re-basing the clock', () => {
    const a = setup(123_456_789);
    a.clint.write(ClintReg.MSIP, 4, 1);
    a.clint.write(ClintReg.MTIMECMP_HI, 4, 0);
    a.clint.write(ClintReg.MTIMECMP_LO, 4, 123_500_000);
    const section = viaJson(a.clint.saveState());
    assert.deepEqual(section, {
      name: 'clint',
      version: CLINT_STATE_VERSION,
      data: { msip: 1, mtimecmpLo: 123_500_000, mtimecmpHi: 0, mtime: 123_456_789 },
    });

    const b = setup(5); // a fresh board whose clock started elsewhere
    b.clint.restoreState(section);
    assert.equal(b.clock.now(), 123_456_789, 'guest time continues from the save');
    assert.ok(b.pins.has(Mip.MSIP));
    assert.ok(!b.pins.has(Mip.MTIP));
    assert.equal(b.clint.nextDeadline(), 123_500_000);
    for (const t of [123_499_999, 123_500_000]) {
      a.clock.ticks = b.clock.ticks = t;
      a.clint.update();
      b.clint.update();
      assert.equal(b.pins.mip, a.pins.mip);
    }
  });

  it('refuses a section of another device or version', () => {
    const { clint } = setup();
    const s = clint.saveState();
    assert.throws(() => clint.restoreState({ ...s, name: 'plic' }), StateError);
    assert.throws(() => clint.restoreState({ ...s, version: 99 }), /version 99/);
    assert.throws(() => clint.restoreState({ ...s, data: { ...s.data, mtime: -1 } }), StateError);
  });

  it('resets msip and mtimecmp, dropping both pins; mtime runs on', () => {
    const { clint, pins, clock } = setup(1000);
    clint.write(ClintReg.MSIP, 4, 1);
    clint.write(ClintReg.MTIMECMP_HI, 4, 0);
    clint.write(ClintReg.MTIMECMP_LO, 4, 500);
    assert.ok(pins.has(Mip.MSIP) && pins.has(Mip.MTIP));
    clint.reset();
    assert.ok(!pins.has(Mip.MSIP) && !pins.has(Mip.MTIP));
    assert.equal(clint.read(ClintReg.MSIP, 4), 0);
    assert.equal(clint.read(ClintReg.MTIMECMP_LO, 4), 0xffff_ffff);
    assert.equal(clint.read(ClintReg.MTIMECMP_HI, 4), 0xffff_ffff);
    assert.equal(clint.read(ClintReg.MTIME_LO, 4), clock.now());
    assert.equal(clint.nextDeadline(), Infinity);
  });
});
