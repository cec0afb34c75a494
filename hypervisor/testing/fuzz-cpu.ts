// Random instruction streams on one hart over a RAM-bounded bus, in M, S and U mode, bare or
// with Sv32, checked by oracles that can fail:
// - run() never throws and every call returns within a wall-clock budget (no hang);
// - every synchronous trap has an architectural cause, lands in the mode delegation says, with
//   a 2-aligned epc;
// - guest RAM changes only where the guest may store. With Sv32 on and the guest unable to
//   change translation (U, or S under mstatus.TVM) every page the mapping leaves unwritable is
//   a guard filled with a pattern that must survive byte for byte; this exercises the fast
//   store path. Where the guest can reach all of RAM (M, bare S and U) every page is watched,
//   so each store reports its address, and every byte that changed must lie under a reported
//   store: a write that bypasses the store path, or lands elsewhere than it says, is caught.
import { Bus } from '../src/bus/bus.js';
import { GuestRam, PAGE_SIZE } from '../src/bus/ram.js';
import type { Clock } from '../src/clock.js';
import { Mstatus } from '../src/cpu/csr.js';
import { Priv } from '../src/cpu/exceptions.js';
import { Hart } from '../src/cpu/hart.js';
import { addi, CSR, csrr, csrw, lui, mret, or, slli, sret, srli, t5, t6 } from './asm.js';
import { Rng } from './block.js';

/** A failure found by a fuzzer; the message names the seed that replays it. */
export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
  constructor(
    readonly seed: number,
    readonly kind: 'crash' | 'hang' | 'check',
    message: string,
    options?: ErrorOptions,
  ) {
    super(`seed ${seed}: ${kind}: ${message}`, options);
  }
}

export interface CpuFuzzMode {
  priv: Priv;
  /** Sv32 on: for M, data accesses through it with mstatus.MPRV (MPP = S). */
  paging: boolean;
}

export const CPU_FUZZ_MODES: readonly CpuFuzzMode[] = [Priv.Machine, Priv.Supervisor, Priv.User].flatMap((priv) => [
  { priv, paging: false },
  { priv, paging: true },
]);

export const modeName = (m: CpuFuzzMode): string => `${'US?M'[m.priv]}${m.paging ? ' with Sv32' : ''}`;

export interface CpuFuzzOptions extends CpuFuzzMode {
  seed: number;
  /** Instructions to retire. */
  instructions: number;
  /** Block runs before compilation (Hart.hotRuns); 0 compiles every block. */
  hotRuns?: number;
  /** Wall-clock budget of one run() call of CHUNK instructions. */
  hangMs?: number;
  /** Called between run() calls: lets a test prove the memory oracle catches a stray write. */
  between?: (ram: GuestRam) => void;
}

export interface CpuFuzzResult {
  instructions: number;
  traps: number;
  /** Times the guest wedged itself (trap vector at nothing, say) and was put back at its code. */
  rescues: number;
}

const RAM_BASE = 0x8000_0000;
const RAM_SIZE = 1 << 20;
/** 16 KiB of random code, 4 MiB aligned (the handlers wrap resumption into it). */
const CODE = RAM_BASE;
const CODE_PAGES = 4;
const M_TRAP = RAM_BASE + 0x1_0000;
const S_TRAP = RAM_BASE + 0x1_0100;
const DATA = RAM_BASE + 0x2_0000;
const DATA_PAGES = 4;
const ROOT = RAM_BASE + 0x4_0000;
const LEAF = RAM_BASE + 0x4_1000;
const CHUNK = 10_000;
const REGENERATE = 16;
const GUARD = 0xa5;

/** LUI, AUIPC, JAL, JALR, BRANCH, LOAD, STORE, OP-IMM, OP, MISC-MEM, AMO, SYSTEM. */
const OPCODES = [0x37, 0x17, 0x6f, 0x67, 0x63, 0x03, 0x23, 0x13, 0x33, 0x0f, 0x2f, 0x73];

/** Exception causes a hart may raise (privileged spec table 3.6; no misaligned fetch with C). */
const CAUSES = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15]);
/** Exceptions delegated to S when the fuzz runs below M (all but ecall from M). */
const DELEGATED = 0xb3ff;

/**
 * Random code: most random words are illegal. Of eight words, three start with a compressed
 * parcel (quadrant 0, 1 or 2) and four are 32-bit with a real major opcode, so the other fields
 * get fuzzed.
 */
export function randomCode(rng: Rng, words: number): number[] {
  return Array.from({ length: words }, () => {
    const w = rng.next();
    const kind = rng.int(8);
    if (kind === 0) return w;
    if (kind < 4) return ((w & ~3) | (kind - 1)) >>> 0;
    return ((w & ~0x7f) | OPCODES[w % OPCODES.length]!) >>> 0;
  });
}

/**
 * A trap handler that resumes 4 bytes past the faulting pc (past a 32-bit instruction, or a
 * compressed one and the parcel after it: random code), wrapping around inside the 16 KiB of
 * random code at `code` (4 MiB aligned), so a wild jump does not leave the fuzz walking zeros.
 */
export const skipper = (epc: number, ret: number, code: number): number[] => [
  csrr(t6, epc),
  addi(t6, t6, 4),
  slli(t6, t6, 18),
  srli(t6, t6, 18),
  lui(t5, code >>> 12),
  or(t6, t6, t5),
  csrw(epc, t6),
  ret,
];

const fixedClock: Clock = { now: () => 0, resumeAt: () => {}, msUntil: () => Infinity };

const words = (list: readonly number[]): Uint8Array => new Uint8Array(Uint32Array.from(list).buffer);

/** Runs one seed of random code in one mode; throws FuzzFailure on any oracle's objection. */
export function fuzzCpu(opts: CpuFuzzOptions): CpuFuzzResult {
  const { seed, priv, paging } = opts;
  const fail = (kind: FuzzFailure['kind'], msg: string, cause?: unknown): never => {
    throw new FuzzFailure(seed, kind, `${modeName(opts)}: ${msg}`, { cause });
  };
  const rng = new Rng(seed);
  const ram = new GuestRam(RAM_BASE, RAM_SIZE);
  const hart = new Hart(ram, new Bus(ram), fixedClock);
  if (opts.hotRuns !== undefined) hart.hotRuns = opts.hotRuns;
  // Translation is fixed when the guest cannot write satp: then unwritable pages are guards.
  const guarded = paging && priv !== Priv.Machine;
  const pageOf = (pa: number): number => (pa - RAM_BASE) / PAGE_SIZE;
  const writable = new Uint8Array(ram.pages);
  for (let p = 0; p < CODE_PAGES; p++) writable[pageOf(CODE) + p] = 1;
  for (let p = 0; p < DATA_PAGES; p++) writable[pageOf(DATA) + p] = 1;

  if (guarded) {
    ram.bytes.fill(GUARD);
    ram.noteWriteRange(0, RAM_SIZE);
  }
  ram.dmaWrite(CODE, words(randomCode(rng, (CODE_PAGES * PAGE_SIZE) / 4)));
  ram.dmaWrite(DATA, rng.bytes(DATA_PAGES * PAGE_SIZE));
  if (paging) mapPages(ram, priv !== Priv.Supervisor);

  const handlers = (): void => {
    ram.dmaWrite(M_TRAP, words(skipper(CSR.mepc, mret(), CODE)));
    ram.dmaWrite(S_TRAP, words(skipper(CSR.sepc, sret(), CODE)));
  };
  /** Puts the hart at the random code in the fuzzed mode, as at the start. */
  const seat = (): void => {
    handlers();
    hart.mtvec = M_TRAP;
    hart.stvec = S_TRAP;
    hart.medeleg = priv === Priv.Machine ? 0 : DELEGATED;
    // M with Sv32: data accesses translate as U through MPRV (a trap sets MPP = M, and mret back to U).
    if (priv === Priv.Machine) hart.mstatus = paging ? Mstatus.MPRV : Mstatus.MPP;
    else hart.mstatus = (priv === Priv.Supervisor ? Mstatus.SPP : 0) | (paging ? Mstatus.TVM : 0);
    hart.satp = paging ? 0x8000_0000 | (ROOT / PAGE_SIZE) | 0 : 0;
    hart.pc = CODE;
    hart.setPriv(priv);
    hart.translationChanged(true);
    hart.wfi = false;
  };
  hart.reset(CODE);
  seat();
  // Half the registers point into the data pages, so loads and stores reach RAM, not only faults.
  for (let r = 1; r < 32; r++) hart.x[r] = r & 1 ? DATA + rng.int(DATA_PAGES * PAGE_SIZE) : rng.next();

  // Oracle: where stores may have gone. Guarded: the writable pages. Else: bytes under reported stores.
  const stored = new Uint8Array(RAM_SIZE);
  if (!guarded) {
    for (let p = 0; p < ram.pages; p++) {
      ram.watch(RAM_BASE + p * PAGE_SIZE, (addr) => stored.fill(1, addr - RAM_BASE, addr - RAM_BASE + 4));
    }
  }
  const baseline = ram.bytes.slice();

  let traps = 0;
  const raise = hart.raise.bind(hart);
  hart.raise = (cause, tval) => {
    traps++;
    const from = hart.priv;
    raise(cause, tval);
    if (!CAUSES.has(cause)) fail('check', `trap with cause ${cause} at pc 0x${(hart.pc >>> 0).toString(16)}`);
    const toS = from !== Priv.Machine && ((hart.medeleg >>> cause) & 1) === 1;
    if (hart.priv !== (toS ? Priv.Supervisor : Priv.Machine))
      fail('check', `cause ${cause} from ${from} went to mode ${hart.priv}`);
    const [c, epc] = toS ? [hart.scause, hart.sepc] : [hart.mcause, hart.mepc];
    if (c !== cause || epc & 1)
      fail('check', `cause ${cause} left cause ${c >>> 0}, epc 0x${(epc >>> 0).toString(16)}`);
  };

  /**
   * Random code soon settles in a cycle (a few hundred trapping pcs per 10^6 instructions):
   * between chunks the guest jumps somewhere else in its code with fresh pointers, and every
   * REGENERATE chunks gets new code (which the oracle takes as the new baseline).
   */
  const shake = (chunk: number): void => {
    if (chunk % REGENERATE === 0) {
      const code = words(randomCode(rng, (CODE_PAGES * PAGE_SIZE) / 4));
      ram.dmaWrite(CODE, code);
      baseline.set(code, CODE - RAM_BASE);
    }
    if (hart.priv !== priv) return; // inside a handler: let it finish
    hart.pc = CODE + 2 * rng.int((CODE_PAGES * PAGE_SIZE) / 2);
    for (let k = 0; k < 4; k++) hart.x[1 + rng.int(31)] = DATA + rng.int(DATA_PAGES * PAGE_SIZE);
  };

  const hangMs = opts.hangMs ?? 5_000;
  let chunks = 0;
  let rescues = 0;
  let stalls = 0;
  while (hart.instret < opts.instructions) {
    const before = hart.instret;
    const t0 = performance.now();
    try {
      hart.wfi = false;
      hart.run(Math.min(opts.instructions, before + CHUNK));
    } catch (e) {
      if (e instanceof FuzzFailure) throw e;
      fail('crash', `run() threw ${String(e)}`, e);
    }
    const ms = performance.now() - t0;
    if (ms > hangMs) fail('hang', `run() of ${CHUNK} instructions took ${Math.round(ms)} ms`);
    if (hart.x[0] !== 0) fail('check', 'x0 is not zero');
    if (hart.pc & 1) fail('check', `pc 0x${(hart.pc >>> 0).toString(16)} is odd`);
    if (![Priv.User, Priv.Supervisor, Priv.Machine].includes(hart.priv)) fail('check', `mode ${hart.priv}`);
    opts.between?.(ram);
    if (hart.instret !== before) {
      stalls = 0;
      shake(++chunks);
      continue;
    }
    // No progress: a trap storm or WFI with nothing to wake it. Put the guest back at its code.
    if (++stalls > 100) break;
    rescues++;
    seat();
  }

  const bytes = ram.bytes;
  for (let i = 0; i < RAM_SIZE; i++) {
    if (bytes[i] === baseline[i]) continue;
    if (guarded ? writable[i >>> 12] : stored[i]) continue;
    fail('check', `RAM at 0x${(RAM_BASE + i).toString(16)} changed without a guest store that may reach it`);
  }
  return { instructions: hart.instret, traps, rescues };
}

/** Identity-maps the code, handler and data pages by 4 KiB PTEs with A and D already set (no PTE writes). */
function mapPages(ram: GuestRam, user: boolean): void {
  const V = 1,
    R = 2,
    W = 4,
    X = 8,
    U = 16,
    AD = 64 | 128;
  ram.dmaWrite(ROOT, new Uint8Array(PAGE_SIZE));
  ram.dmaWrite(LEAF, new Uint8Array(PAGE_SIZE));
  ram.view.setUint32(ram.offsetOf(ROOT + ((RAM_BASE >>> 22) & 0x3ff) * 4), ((LEAF / PAGE_SIZE) << 10) | V, true);
  const map = (pa: number, flags: number): void => {
    ram.view.setUint32(
      ram.offsetOf(LEAF + ((pa >>> 12) & 0x3ff) * 4),
      (((pa / PAGE_SIZE) << 10) | flags | V | AD) >>> 0,
      true,
    );
  };
  const u = user ? U : 0;
  for (let p = 0; p < CODE_PAGES; p++) map(CODE + p * PAGE_SIZE, R | W | X | u);
  for (let p = 0; p < DATA_PAGES; p++) map(DATA + p * PAGE_SIZE, R | W | u);
  map(M_TRAP, X); // both handlers' page: S runs its handler here; the guest cannot write it
}
