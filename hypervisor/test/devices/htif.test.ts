import assert from 'node:assert/strict';
import { GuestRam } from '../../src/bus/ram.js';
import { Htif, HTIF_SYS_EXIT, HTIF_SYS_WRITE } from '../../src/devices/htif/htif.js';
import { HTIF_STATE_VERSION } from '../../src/devices/htif/persist.js';
import { StateError } from '../../src/state/section.js';
import { viaJson } from './fakes.js';

const BASE = 0x8000_0000;
const TOHOST = BASE + 0x1000;
const FROMHOST = BASE + 0x1008;
const MAGIC = BASE + 0x2000;

/** `fromhost` null: a program without one. */
function setup(ram = new GuestRam(BASE, 0x4000), fromhost: number | null = FROMHOST) {
  const exits: number[] = [];
  const out: number[] = [];
  const htif = new Htif(ram, TOHOST, fromhost ?? undefined, {
    exit: (c) => exits.push(c),
    putchar: (b) => out.push(b),
  });
  /** A guest store: the word lands in RAM, then the CPU's slow path reports it. */
  const store32 = (addr: number, value: number) => {
    ram.view.setUint32(addr - BASE, value >>> 0, true);
    ram.noteWrite(addr - BASE);
  };
  const load64 = (addr: number) => ram.view.getBigUint64(addr - BASE, true);
  /** A 64-bit store as GCC emits it for rv32: low word first. */
  const store64 = (addr: number, v: bigint) => {
    store32(addr, Number(v & 0xffff_ffffn));
    store32(addr + 4, Number(v >> 32n));
  };
  return { ram, htif, exits, out, store32, store64, load64 };
}

const cmd = (device: number, command: number, payload: bigint) =>
  (BigInt(device) << 56n) | (BigInt(command) << 48n) | payload;

describe('HTIF', () => {
  it('exits with payload >> 1 when device 0 gets an odd payload, and clears tohost', () => {
    const t = setup();
    t.store32(TOHOST, (3 << 1) | 1);
    assert.deepEqual(t.exits, [], 'the low word alone may be half a store: wait');
    t.store32(TOHOST + 4, 0); // riscv-tests: sw TESTNUM, tohost; sw zero, tohost+4
    assert.deepEqual(t.exits, [3]);
    assert.equal(t.load64(TOHOST), 0n);
    t.store64(TOHOST, 1n);
    assert.deepEqual(t.exits, [3, 0], '1 = pass');
  });

  it('prints console putchar commands and answers them in fromhost', () => {
    const t = setup();
    t.store64(TOHOST, cmd(1, 1, 0x41n));
    assert.deepEqual(t.out, [0x41]);
    assert.equal(t.load64(TOHOST), 0n);
    assert.equal(t.load64(FROMHOST), cmd(1, 1, 0x141n));
    assert.deepEqual(t.exits, [], 'odd payload on device 1 is not an exit');
  });

  it('also handles the high word written first', () => {
    const t = setup();
    t.store32(TOHOST + 4, 0x0101_0000);
    assert.deepEqual(t.out, []);
    t.store32(TOHOST, 0x42);
    assert.deepEqual(t.out, [0x42]);
  });

  it('queues answers until the guest clears fromhost', () => {
    const t = setup();
    t.store64(TOHOST, cmd(1, 1, 0x61n));
    t.store64(TOHOST, cmd(1, 1, 0x62n));
    assert.deepEqual(t.out, [0x61, 0x62]);
    assert.equal(t.load64(FROMHOST), cmd(1, 1, 0x161n));
    t.store64(FROMHOST, 0n);
    assert.equal(t.load64(FROMHOST), cmd(1, 1, 0x162n));
  });

  it('settles a tohost written as one 32-bit word on the second poll', () => {
    const t = setup();
    t.store32(TOHOST, 1);
    t.htif.poll();
    assert.deepEqual(t.exits, []);
    t.htif.poll();
    assert.deepEqual(t.exits, [0]);
    t.htif.poll();
    t.htif.poll();
    assert.deepEqual(t.exits, [0], 'handled once');
  });

  it('serves proxied write and exit syscalls through magic_mem', () => {
    const t = setup();
    const msg = new TextEncoder().encode('hello\n');
    t.ram.bytes.set(msg, MAGIC + 0x100 - BASE);
    const magic = (...words: number[]) =>
      words.forEach((w, i) => t.ram.view.setBigUint64(MAGIC - BASE + 8 * i, BigInt(w), true));

    magic(HTIF_SYS_WRITE, 1, MAGIC + 0x100, msg.length);
    t.store64(TOHOST, BigInt(MAGIC));
    assert.deepEqual(t.out, [...msg]);
    assert.equal(t.load64(MAGIC), BigInt(msg.length), 'the result goes to magic_mem[0]');
    assert.equal(t.load64(FROMHOST), 1n);
    t.store64(FROMHOST, 0n);

    magic(HTIF_SYS_WRITE, 3, MAGIC + 0x100, 1);
    t.store64(TOHOST, BigInt(MAGIC));
    assert.equal(BigInt.asIntN(64, t.load64(MAGIC)), -9n, 'EBADF for other descriptors');
    t.store64(FROMHOST, 0n);

    magic(1234);
    t.store64(TOHOST, BigInt(MAGIC));
    assert.equal(BigInt.asIntN(64, t.load64(MAGIC)), -38n, 'ENOSYS');
    t.store64(FROMHOST, 0n);

    magic(HTIF_SYS_EXIT, 7);
    t.store64(TOHOST, BigInt(MAGIC));
    assert.deepEqual(t.exits, [7]);
  });

  it('works without fromhost (exit-only programs)', () => {
    const t = setup(undefined, null);
    t.store64(TOHOST, cmd(1, 1, 0x21n));
    t.store64(TOHOST, 5n);
    assert.deepEqual(t.out, [0x21]);
    assert.deepEqual(t.exits, [2]);
    assert.equal(t.load64(FROMHOST), 0n);
  });

  it('rejects tohost outside RAM or misaligned', () => {
    const ram = new GuestRam(BASE, 0x4000);
    const host = { exit: () => {}, putchar: () => {} };
    assert.throws(() => new Htif(ram, 0x1000, undefined, host), /not an aligned 64-bit word in RAM/);
    assert.throws(() => new Htif(ram, TOHOST + 4, undefined, host), /tohost at 0x80001004/);
  });

  it('saves undelivered answers and the poll latch, and refuses another program’s section', () => {
    const a = setup();
    a.store64(TOHOST, cmd(1, 1, 0x61n));
    a.store64(TOHOST, cmd(1, 1, 0x62n)); // queued behind the first answer
    a.store32(TOHOST, 1); // half-written exit: wait for a poll
    a.htif.poll();
    const section = viaJson(a.htif.saveState());
    assert.equal(section.version, HTIF_STATE_VERSION);
    assert.deepEqual(section.data.fromhostQueue, ['0x101000000000162']);

    const ram = new GuestRam(BASE, 0x4000);
    ram.bytes.set(a.ram.bytes); // guest RAM travels in the snapshot
    const b = setup(ram);
    b.htif.restoreState(section);
    for (const t of [a, b]) {
      t.htif.poll();
      assert.deepEqual(t.exits, [0]);
      t.store64(FROMHOST, 0n);
      assert.equal(t.load64(FROMHOST), cmd(1, 1, 0x162n));
    }

    const other = setup(new GuestRam(BASE, 0x4000), null);
    assert.throws(() => other.htif.restoreState(section), StateError);
    assert.throws(() => b.htif.restoreState({ ...section, version: 3 }), StateError);
  });
});
