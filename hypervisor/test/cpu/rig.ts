// The hart on a test bench: 1 MiB of RAM at 0x8000_0000, an empty bus, a hand-driven clock.
// Programs are loaded at CODE and end by halting: `wfi` in M-mode (mie is 0, so the hart goes to
// sleep and run() returns); below M they end with `ecall`, which traps to M_TRAP, a `wfi` too.
// Both trap vectors halt, so a test that expects a trap reads the trap CSRs afterwards.
import assert from 'node:assert/strict';
import { Bus } from '../../src/bus/bus.js';
import { GuestRam } from '../../src/bus/ram.js';
import type { Clock } from '../../src/clock.js';
import { Priv } from '../../src/cpu/exceptions.js';
import { Hart } from '../../src/cpu/hart.js';
import { a0, a1, a2, addi, ecall, li, s0, sw, wfi } from '../../testing/asm.js';

export const RAM_BASE = 0x8000_0000;
/** Programs: up to 64 KiB. */
export const CODE = RAM_BASE;
/** M-mode trap vector: halts. */
export const M_TRAP = RAM_BASE + 0x1_0000;
/** S-mode trap vector: halts (S may execute wfi while mstatus.TW is 0). */
export const S_TRAP = RAM_BASE + 0x1_0100;
/** Free pages for data. */
export const DATA = RAM_BASE + 0x2_0000;
/** Where evalOp stores its results. */
export const RESULTS = RAM_BASE + 0x3_0000;
/** An address where nothing is mapped: not RAM, no device. */
export const UNMAPPED = 0x4000_0000;

export class TestClock implements Clock {
  ticks = 0;
  now(): number {
    return this.ticks;
  }
  resumeAt(ticks: number): void {
    this.ticks = ticks;
  }
  msUntil(): number {
    return Infinity;
  }
}

export type Program = ReadonlyArray<number | readonly number[]>;

export const flat = (p: Program): number[] => p.flatMap((w) => (typeof w === 'number' ? [w] : [...w]));

export interface Trap {
  cause: number;
  epc: number;
  tval: number;
}

export class Rig {
  readonly ram: GuestRam;
  readonly bus: Bus;
  readonly clock = new TestClock();
  readonly hart: Hart;

  constructor(ramSize = 1 << 20) {
    this.ram = new GuestRam(RAM_BASE, ramSize);
    this.bus = new Bus(this.ram);
    this.hart = new Hart(this.ram, this.bus, this.clock);
    this.hart.reset(CODE);
    this.load([wfi()], M_TRAP);
    this.load([wfi()], S_TRAP);
    this.hart.mtvec = M_TRAP;
    this.hart.stvec = S_TRAP;
  }

  /** Writes instruction words at physical `at` (as DMA, so translated code there is dropped). Returns the end. */
  load(program: Program, at = CODE): number {
    const words = flat(program);
    const bytes = new Uint8Array(words.length * 4);
    const dv = new DataView(bytes.buffer);
    words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
    this.ram.dmaWrite(at, bytes);
    return at + bytes.length;
  }

  write32(pa: number, v: number): void {
    this.load([v], pa);
  }

  read32(pa: number): number {
    return this.ram.view.getUint32(this.off(pa), true);
  }

  read8(pa: number): number {
    return this.ram.view.getUint8(this.off(pa));
  }

  private off(pa: number): number {
    const o = this.ram.offsetOf(pa);
    assert.ok(o >= 0, `0x${pa.toString(16)} is not RAM`);
    return o;
  }

  /** Starts executing at `pc` in privilege `priv`. */
  start(pc = CODE, priv = Priv.Machine): this {
    this.hart.pc = pc | 0;
    this.hart.setPriv(priv);
    this.hart.wfi = false;
    return this;
  }

  /** Runs until the hart halts in WFI; fails if it has not after `limit` more instructions. */
  runToHalt(limit = 100_000): this {
    this.hart.run(this.hart.instret + limit);
    assert.ok(this.hart.wfi, `no halt within ${limit} instructions (pc 0x${(this.hart.pc >>> 0).toString(16)})`);
    return this;
  }

  /** Runs exactly n instructions (fewer if the hart halts). */
  step(n = 1): this {
    this.hart.run(this.hart.instret + n, true);
    return this;
  }

  /** Loads `program` plus a halting instruction at CODE and runs it in `priv` until it halts. */
  exec(program: Program, priv = Priv.Machine): this {
    this.load([...program, priv === Priv.Machine ? wfi() : ecall()]);
    return this.start(CODE, priv).runToHalt();
  }

  /** x[r] as a signed 32-bit value. */
  x(r: number): number {
    return this.hart.x[r]!;
  }

  /** x[r] as an unsigned 32-bit value. */
  u(r: number): number {
    return this.hart.x[r]! >>> 0;
  }

  /** The last trap taken into M (unsigned fields). */
  mTrap(): Trap {
    const h = this.hart;
    return { cause: h.mcause >>> 0, epc: h.mepc >>> 0, tval: h.mtval >>> 0 };
  }

  /** The last trap taken into S (unsigned fields). */
  sTrap(): Trap {
    const h = this.hart;
    return { cause: h.scause >>> 0, epc: h.sepc >>> 0, tval: h.stval >>> 0 };
  }
}

/**
 * Runs `op a0, a1, a2` with a1 = a and a2 = b for each [a, b] pair in one M-mode program and
 * returns a0 of each (signed). `op` is any (rd, rs1, rs2) encoder; the immediate forms take b
 * from the last argument instead of a2.
 */
export function evalOp(
  op: (rd: number, rs1: number, rs2: number, b: number) => number,
  pairs: ReadonlyArray<readonly [number, number]>,
): number[] {
  const rig = new Rig();
  const program: Array<number | readonly number[]> = [li(s0, RESULTS)];
  for (const [a, b] of pairs) program.push(li(a1, a), li(a2, b), op(a0, a1, a2, b), sw(a0, s0, 0), addi(s0, s0, 4));
  rig.exec(program);
  return pairs.map((_, i) => rig.read32(RESULTS + 4 * i) | 0);
}

/** Every ordered pair of `values`. */
export const allPairs = (values: readonly number[]): Array<[number, number]> =>
  values.flatMap((a) => values.map((b): [number, number] => [a, b]));

// --- Sv32 page tables ---

export const Pte = { V: 1, R: 2, W: 4, X: 8, U: 16, G: 32, A: 64, D: 128 } as const;
export const RWX = Pte.R | Pte.W | Pte.X;
/** Accessed and dirty already set, so a test that is not about A/D sees no PTE writes. */
export const AD = Pte.A | Pte.D;

export const satpFor = (rootPa: number): number => 0x8000_0000 | (rootPa / 4096) | 0;

/** Builds Sv32 tables in the rig's RAM: a root page, and second-level pages taken from a bump allocator. */
export class PageTables {
  private next: number;

  constructor(
    private readonly rig: Rig,
    readonly root: number,
    /** Where second-level tables are allocated from, one page each. */
    pool: number,
  ) {
    this.next = pool;
    rig.ram.dmaWrite(root, new Uint8Array(4096));
  }

  get satp(): number {
    return satpFor(this.root);
  }

  /** Maps the 4 KiB page at `va` to `pa` with the given PTE flags (V added). */
  map(va: number, pa: number, flags: number): this {
    const l1 = this.root + ((va >>> 22) & 0x3ff) * 4;
    let pte = this.rig.read32(l1);
    if (!(pte & Pte.V)) {
      const table = this.next;
      this.next += 4096;
      this.rig.ram.dmaWrite(table, new Uint8Array(4096));
      pte = ((table / 4096) << 10) | Pte.V;
      this.rig.write32(l1, pte);
    }
    assert.ok(!(pte & RWX), 'the 4 MiB region is already a superpage');
    const l0 = (pte >>> 10) * 4096 + ((va >>> 12) & 0x3ff) * 4;
    this.rig.write32(l0, this.leaf(pa, flags));
    return this;
  }

  /** Maps the 4 MiB superpage at `va` to `pa` (which a test may misalign on purpose). */
  mapSuper(va: number, pa: number, flags: number): this {
    this.rig.write32(this.root + ((va >>> 22) & 0x3ff) * 4, this.leaf(pa, flags));
    return this;
  }

  /** Writes a raw PTE: the leaf for `va` (level 0), or its level-1 entry. */
  setPte(va: number, pte: number, level: 0 | 1 = 0): void {
    this.rig.write32(this.pteAddress(va, level), pte);
  }

  pte(va: number, level: 0 | 1 = 0): number {
    return this.rig.read32(this.pteAddress(va, level));
  }

  pteAddress(va: number, level: 0 | 1 = 0): number {
    const l1 = this.root + ((va >>> 22) & 0x3ff) * 4;
    if (level === 1) return l1;
    return (this.rig.read32(l1) >>> 10) * 4096 + ((va >>> 12) & 0x3ff) * 4;
  }

  private leaf(pa: number, flags: number): number {
    return ((Math.floor(pa / 4096) << 10) | flags | Pte.V) >>> 0;
  }
}

/** A seeded generator of 32-bit words (mulberry32), so random tests replay the same way. */
export function randomWords(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b_79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) | 0;
  };
}
