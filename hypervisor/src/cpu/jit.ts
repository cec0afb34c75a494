// Translates a run of guest instructions (up to a jump, a system instruction or the end of the
// page) into JavaScript. This is the only place instruction semantics live, and it serves two
// tiers: cold code runs through instruction templates (one compiled function per instruction
// shape, reading its operands from the block's operand stream, so making a block compiles nothing
// new), and a block that turns hot is compiled into one function with its operands as literals.
//
// Translated code keeps guest registers in `x`, reaches RAM through the TLB arrays with a tag
// compare, and calls the hart's slow paths for misses, MMIO and traps. Before a call that can
// trap it stores pc; after a trap it adds the instructions already retired and returns.
import * as d from './decode.js';
import { TLB_MASK } from './tlb.js';

export type Block = (hart: unknown) => void;

export const MAX_BLOCK = 64;

/** Helpers translated code calls for the high half of 32×32-bit products. */
const helpers = {
  mulhu(a: number, b: number): number {
    a >>>= 0;
    b >>>= 0;
    const a0 = a & 0xffff,
      a1 = a >>> 16,
      b0 = b & 0xffff,
      b1 = b >>> 16;
    const mid = a1 * b0 + ((a0 * b0) >>> 16);
    const mid2 = (mid & 0xffff) + a0 * b1;
    return (a1 * b1 + Math.floor(mid / 65536) + Math.floor(mid2 / 65536)) | 0;
  },
  mulh(a: number, b: number): number {
    return (helpers.mulhu(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
  },
  mulhsu(a: number, b: number): number {
    return (helpers.mulhu(a, b) - (a < 0 ? b : 0)) | 0;
  },
};

/** A translated instruction: its code, and whether it ends the block. */
interface Emitted {
  code: string;
  ends: boolean;
}

/**
 * How one instruction's values are written into its code. A hot block writes them as literals;
 * cold code writes them as reads from the block's operand stream, so the code depends on the
 * instruction word alone and is translated once per word. Code shape may depend on operands only
 * through choices made here in TypeScript (x0, widths), never through what these return.
 */
interface At {
  /** A value taken from the instruction word. */
  v: (n: number) => string;
  /** The instruction's pc plus `off` (0, its length, or an offset from the instruction word). */
  pc: (off: number) => string;
  /** The instruction's length in bytes: 2 for a compressed one. */
  len: 2 | 4;
  /** Instructions of the block retired before this one, plus `n`. */
  k: (n: 0 | 1) => string;
}

const reg = (at: At, r: number): string => (r === 0 ? '0' : `x[${at.v(r)}]`);
const set = (at: At, r: number, expr: string): string => (r === 0 ? '' : `x[${at.v(r)}] = ${expr};`);

const exitOnTrap = (at: At): string => `if (c.trapped) { c.trapped = false; c.instret += ${at.k(0)}; return 1; }`;
const raise = (at: At, cause: number, tval: string): Emitted => ({
  code: `c.instret += ${at.k(0)}; c.pc = ${at.pc(0)}; c.raise(${cause}, ${tval}); c.trapped = false; return 1;`,
  ends: true,
});
const illegal = (at: At, insn: number): Emitted => raise(at, 2, at.v(insn));
/** Calls a hart method that sets pc itself (system instructions), then leaves the block. */
const system = (at: At, call: string): Emitted => ({
  code: `c.instret += ${at.k(0)}; c.pc = ${at.pc(0)}; ${call}; c.trapped = false; return 1;`,
  ends: true,
});
const ok = (code: string): Emitted => ({ code, ends: false });

const LOADS: Record<number, [width: 1 | 2 | 4, signed: boolean, view: string, shift: number]> = {
  0: [1, true, 'm8', 0],
  1: [2, true, 'm16', 1],
  2: [4, true, 'm32', 2],
  4: [1, false, 'mu8', 0],
  5: [2, false, 'mu16', 1],
};
const STORES: Record<number, [width: 1 | 2 | 4, view: string, shift: number]> = {
  0: [1, 'm8', 0],
  1: [2, 'm16', 1],
  2: [4, 'm32', 2],
};

function load(insn: number, at: At): Emitted {
  const spec = LOADS[d.funct3(insn)];
  if (!spec) return illegal(at, insn);
  const [width, signed, view, shift] = spec;
  const aligned = width > 1 ? ` && (va & ${width - 1}) === 0` : '';
  return ok(
    `va = (${reg(at, d.rs1(insn))} + ${at.v(d.immI(insn))}) | 0; vp = va >>> 12; i = vp & ${TLB_MASK};` +
      `if (c.rT[i] === vp${aligned}) t = c.${view}[(c.rO[i] + va) >> ${shift}];` +
      `else { c.pc = ${at.pc(0)}; t = c.loadSlow(va, ${width}, ${signed}); ${exitOnTrap(at)} }` +
      set(at, d.rd(insn), 't'),
  );
}

function store(insn: number, at: At): Emitted {
  const spec = STORES[d.funct3(insn)];
  if (!spec) return illegal(at, insn);
  const [width, view, shift] = spec;
  const aligned = width > 1 ? ` && (va & ${width - 1}) === 0` : '';
  return ok(
    `va = (${reg(at, d.rs1(insn))} + ${at.v(d.immS(insn))}) | 0; vp = va >>> 12; i = vp & ${TLB_MASK};` +
      `if (c.wT[i] === vp${aligned}) c.${view}[(c.wO[i] + va) >> ${shift}] = ${reg(at, d.rs2(insn))};` +
      `else { c.pc = ${at.pc(0)}; c.storeSlow(va, ${reg(at, d.rs2(insn))}, ${width}); ${exitOnTrap(at)} }`,
  );
}

function opImm(insn: number, at: At): Emitted {
  const a = reg(at, d.rs1(insn));
  const imm = d.immI(insn);
  const shamt = imm & 0x3f;
  const v = at.v(imm);
  const f7 = d.funct7(insn);
  let e: string;
  switch (d.funct3(insn)) {
    case 0:
      e = `(${a} + ${v}) | 0`;
      break;
    case 2:
      e = `${a} < ${v} ? 1 : 0`;
      break;
    case 3:
      e = `(${a} >>> 0) < (${v} >>> 0) ? 1 : 0`;
      break;
    case 4:
      e = `${a} ^ ${v}`;
      break;
    case 6:
      e = `${a} | ${v}`;
      break;
    case 7:
      e = `${a} & ${v}`;
      break;
    case 1:
      if (f7 !== 0 || shamt > 31) return illegal(at, insn);
      e = `${a} << ${at.v(shamt)}`;
      break;
    case 5:
      if ((f7 !== 0 && f7 !== 0x20) || shamt > 31) return illegal(at, insn);
      e = f7 ? `${a} >> ${at.v(shamt)}` : `(${a} >>> ${at.v(shamt)}) | 0`;
      break;
    default:
      return illegal(at, insn);
  }
  return ok(set(at, d.rd(insn), e));
}

function op(insn: number, at: At): Emitted {
  const a = reg(at, d.rs1(insn));
  const b = reg(at, d.rs2(insn));
  const f7 = d.funct7(insn);
  const f3 = d.funct3(insn);
  let e: string | undefined;
  if (f7 === 0) {
    e = [
      `(${a} + ${b}) | 0`,
      `${a} << (${b} & 31)`,
      `${a} < ${b} ? 1 : 0`,
      `(${a} >>> 0) < (${b} >>> 0) ? 1 : 0`,
      `${a} ^ ${b}`,
      `(${a} >>> (${b} & 31)) | 0`,
      `${a} | ${b}`,
      `${a} & ${b}`,
    ][f3];
  } else if (f7 === 0x20) {
    if (f3 === 0) e = `(${a} - ${b}) | 0`;
    if (f3 === 5) e = `${a} >> (${b} & 31)`;
  } else if (f7 === 1) {
    // M extension: division never traps; results for /0 and overflow are fixed by the spec.
    e = [
      `Math.imul(${a}, ${b})`,
      `H.mulh(${a}, ${b})`,
      `H.mulhsu(${a}, ${b})`,
      `H.mulhu(${a}, ${b})`,
      `${b} === 0 ? -1 : ${a} === -2147483648 && ${b} === -1 ? ${a} : (${a} / ${b}) | 0`,
      `${b} === 0 ? -1 : ((${a} >>> 0) / (${b} >>> 0)) | 0`,
      `${b} === 0 ? ${a} : ${b} === -1 ? 0 : (${a} % ${b}) | 0`,
      `${b} === 0 ? ${a} : ((${a} >>> 0) % (${b} >>> 0)) | 0`,
    ][f3];
  }
  return e === undefined ? illegal(at, insn) : ok(set(at, d.rd(insn), e));
}

const BRANCH_CONDITIONS: Record<number, (a: string, b: string) => string> = {
  0: (a, b) => `${a} === ${b}`,
  1: (a, b) => `${a} !== ${b}`,
  4: (a, b) => `${a} < ${b}`,
  5: (a, b) => `${a} >= ${b}`,
  6: (a, b) => `(${a} >>> 0) < (${b} >>> 0)`,
  7: (a, b) => `(${a} >>> 0) >= (${b} >>> 0)`,
};

// With C, instructions are 2-aligned (IALIGN = 16) and every jump or branch target is even, so
// none of them raises instruction-address-misaligned.

/** A conditional branch is a side exit: the block goes on along the fall-through path. */
function branch(insn: number, at: At): Emitted {
  const cond = BRANCH_CONDITIONS[d.funct3(insn)];
  if (!cond) return illegal(at, insn);
  return ok(
    `if (${cond(reg(at, d.rs1(insn)), reg(at, d.rs2(insn)))}) { c.instret += ${at.k(1)}; c.pc = ${at.pc(d.immB(insn))}; return 1; }`,
  );
}

function jal(insn: number, at: At): Emitted {
  return {
    code: `${set(at, d.rd(insn), at.pc(at.len))} c.instret += ${at.k(1)}; c.pc = ${at.pc(d.immJ(insn))}; return 1;`,
    ends: true,
  };
}

function jalr(insn: number, at: At): Emitted {
  if (d.funct3(insn) !== 0) return illegal(at, insn);
  return {
    code:
      `t = (${reg(at, d.rs1(insn))} + ${at.v(d.immI(insn))}) & -2;` +
      `${set(at, d.rd(insn), at.pc(at.len))} c.instret += ${at.k(1)}; c.pc = t; return 1;`,
    ends: true,
  };
}

function amo(insn: number, at: At): Emitted {
  if (d.funct3(insn) !== 2) return illegal(at, insn);
  const f5 = insn >>> 27;
  if (f5 === 0x02 && d.rs2(insn) !== 0) return illegal(at, insn);
  if (![0x00, 0x01, 0x02, 0x03, 0x04, 0x08, 0x0c, 0x10, 0x14, 0x18, 0x1c].includes(f5)) return illegal(at, insn);
  return ok(
    `c.pc = ${at.pc(0)}; c.amo(${f5}, ${at.v(d.rd(insn))}, ${reg(at, d.rs1(insn))}, ${reg(at, d.rs2(insn))}); ${exitOnTrap(at)}`,
  );
}

function systemInsn(insn: number, at: At): Emitted {
  const f3 = d.funct3(insn);
  if (f3 === 0) {
    switch (insn) {
      case 0x0000_0073:
        return system(at, 'c.ecall()');
      case 0x0010_0073:
        return raise(at, 3, at.pc(0));
      case 0x1020_0073:
        return system(at, `c.xret(false, ${at.v(insn)})`);
      case 0x3020_0073:
        return system(at, `c.xret(true, ${at.v(insn)})`);
      case 0x1050_0073:
        return system(at, `c.wfiInsn(${at.v(insn)})`);
    }
    if (d.funct7(insn) === 0x09 && d.rd(insn) === 0) return system(at, `c.sfenceVma(${at.v(insn)})`);
    return illegal(at, insn);
  }
  if (f3 === 4) return illegal(at, insn);
  const mode = f3 & 3;
  const src = f3 & 4 ? at.v(d.rs1(insn)) : reg(at, d.rs1(insn));
  const doWrite = mode === 1 || d.rs1(insn) !== 0;
  // CSR instructions end the block: they may change translation or enable interrupts.
  return {
    code:
      `c.instret += ${at.k(0)}; c.pc = ${at.pc(0)};` +
      `if (c.csrOp(${mode}, ${at.v(insn >>> 20)}, ${at.v(d.rd(insn))}, ${src}, ${doWrite}, ${at.v(insn)})) { c.pc = ${at.pc(at.len)}; c.instret++; }` +
      `else c.trapped = false; return 1;`,
    ends: true,
  };
}

/** Translates a 32-bit instruction word, or a 16-bit parcel (at.len 2) through the instruction it stands for. */
function emit(raw: number, at: At): Emitted {
  if (at.len === 4) return emit32(raw, at);
  const insn = d.expandCompressed(raw);
  // mtval of an illegal compressed instruction holds its 16 bits, not an expansion.
  return insn === 0 ? illegal(at, raw) : emit32(insn, at);
}

function emit32(insn: number, at: At): Emitted {
  switch (d.opcode(insn)) {
    case 0x37:
      return ok(set(at, d.rd(insn), at.v(d.immU(insn) | 0)));
    case 0x17:
      return ok(set(at, d.rd(insn), at.pc(d.immU(insn) | 0)));
    case 0x6f:
      return jal(insn, at);
    case 0x67:
      return jalr(insn, at);
    case 0x63:
      return branch(insn, at);
    case 0x03:
      return load(insn, at);
    case 0x23:
      return store(insn, at);
    case 0x13:
      return opImm(insn, at);
    case 0x33:
      return op(insn, at);
    case 0x0f:
      // FENCE orders nothing on one hart; FENCE.I needs no flush because stores to translated
      // code already drop it, but it ends the block so the next fetch sees the new code.
      if (d.funct3(insn) === 0) return ok('');
      if (d.funct3(insn) === 1)
        return { code: `c.instret += ${at.k(1)}; c.pc = ${at.pc(at.len)}; return 1;`, ends: true };
      return illegal(at, insn);
    case 0x2f:
      return amo(insn, at);
    case 0x73:
      return systemInsn(insn, at);
    default:
      return illegal(at, insn);
  }
}

const PROLOGUE = 'let va = 0, vp = 0, i = 0, t = 0; const x = c.x;';

/** Where a walk over a block's instructions stopped short of an instruction that ends the block. */
interface FallThrough {
  /** Instructions walked. */
  k: number;
  /** Their bytes. */
  bytes: number;
}

/** Calls `f(raw, k, off)` for a block's instructions (`off`: bytes before it) until it says one ends the block. */
type Walk = (f: (raw: number, k: number, off: number) => boolean) => FallThrough | undefined;

const lengthOf = (raw: number): 2 | 4 => ((raw & 3) === 3 ? 4 : 2);

/**
 * Walks the block at RAM byte offset `host` in 16-bit parcels: at most `max` instructions, not
 * past the page. A 32-bit instruction whose second half lies on the next page ends the walk before
 * it: that half is fetched through the next page's own translation (see Hart.straddle).
 */
function ramWalk(ram: DataView, host: number, max: number): Walk {
  const room = 0x1000 - (host & 0xfff);
  return (f) => {
    let off = 0;
    let k = 0;
    for (; k < max && off + 2 <= room; k++) {
      const low = ram.getUint16(host + off, true);
      const len = lengthOf(low);
      if (off + len > room) break;
      if (f(len === 4 ? ram.getInt32(host + off, true) : low, k, off)) return undefined;
      off += len;
    }
    return { k, bytes: off };
  };
}

/** Whether the instruction at RAM byte offset `host` is 32-bit and runs past its page. */
export const straddles = (ram: DataView, host: number): boolean =>
  (host & 0xfff) === 0xffe && (ram.getUint16(host, true) & 3) === 3;

const literal = (n: number): string => `${n}`;

/** Hot tier: the whole block as one function with its operands as literals. */
export function compileBlock(ram: DataView, pc: number, host: number, max: number): Block {
  let body = '';
  const walk = ramWalk(ram, host, max);
  const fall = walk((raw, k, off) => {
    const at: At = { v: literal, pc: (o) => `${(pc + off + o) | 0}`, k: (n) => `${k + n}`, len: lengthOf(raw) };
    const e = emit(raw, at);
    body += e.code + '\n';
    return e.ends;
  });
  if (fall) body += `c.instret += ${fall.k}; c.pc = ${(pc + fall.bytes) | 0};`;
  const src = `return function block_${(pc >>> 0).toString(16)}(c) { ${PROLOGUE}\n${body}}`;
  return new Function('H', src)(helpers) as Block;
}

// Cold tier. A block is an operand stream: per instruction its template's index, its pc, its k
// (instructions before it in the block), then the operands its template reads, `o[j + 3 + n]`.
// The stream is one typed array per block, read in order: cold kernel code is too large for
// per-instruction closures to stay in cache.

/** Runs the instruction at `o[j]`: returns where the next one starts, or 1 if it left the block. */
type Template = (c: unknown, o: Int32Array, j: number) => number;
/** One compiled template per instruction shape and width, by index. */
const templateIndex = new Map<string, number>();
const templates: Template[] = [];

/** An instruction translated for the cold tier: its template, operands, and whether it ends the block. */
interface Cold {
  t: number;
  ops: number[];
  ends: boolean;
}
/**
 * Cold translations by instruction word, direct-mapped (a collision only costs translating the
 * word again). A Map keyed by word was slower: most words are outside the small-integer range.
 * Linux boots with about 36,000 distinct words.
 */
const COLD_SLOTS = 1 << 17;
const coldKeys = new Int32Array(COLD_SLOTS);
const coldValues = new Array<Cold | undefined>(COLD_SLOTS).fill(undefined);

/** `insn`: a 32-bit word or a 16-bit parcel; the two never collide, their low bits differ. */
function cold(insn: number): Cold {
  const slot = Math.imul(insn, 0x9e3779b1) >>> 15;
  const hit = coldValues[slot];
  if (hit !== undefined && coldKeys[slot] === insn) return hit;
  const ops: number[] = [];
  const operand = (n: number): string => `o[j + ${3 + ops.push(n) - 1}]`;
  const { code, ends } = emit(insn, {
    v: operand,
    pc: (off) => (off === 0 ? 'o[j + 1]' : `((o[j + 1] + ${operand(off)}) | 0)`),
    k: (n) => (n === 0 ? 'o[j + 2]' : `(o[j + 2] + ${n})`),
    len: lengthOf(insn),
  });
  // Keyed by width too: an emitter may take an operand it does not use, and the stream still holds it.
  const key = `${ops.length} ${code}`;
  let t = templateIndex.get(key);
  if (t === undefined) {
    t = templates.length;
    templates.push(
      new Function('H', `return function (c, o, j) { ${PROLOGUE} ${code} return j + ${3 + ops.length}; };`)(
        helpers,
      ) as Template,
    );
    templateIndex.set(key, t);
  }
  const e: Cold = { t, ops, ends };
  coldKeys[slot] = insn;
  coldValues[slot] = e;
  return e;
}

/** Where a block's stream is assembled: no instruction takes more than 16 entries. */
const scratch = new Int32Array(MAX_BLOCK * 16);

/**
 * Cold tier: the block as an operand stream run through instruction templates. After `hot` runs,
 * `onHot` is called once (to compile and install the hot-tier block).
 */
export function threadBlock(
  ram: DataView,
  pc: number,
  host: number,
  max: number,
  hot: number,
  onHot: () => void,
): Block {
  return thread(ramWalk(ram, host, max), pc, hot, onHot);
}

/** One 32-bit instruction given by its word, not read from RAM: one that straddles two pages. */
export const instructionBlock = (insn: number, pc: number): Block =>
  thread(
    (f) => (f(insn, 0, 0) ? undefined : { k: 1, bytes: 4 }),
    pc,
    Infinity,
    () => {},
  );

function thread(walk: Walk, pc: number, hot: number, onHot: () => void): Block {
  let n = 0;
  const fall = walk((raw, k, off) => {
    const e = cold(raw);
    scratch[n] = e.t;
    scratch[n + 1] = (pc + off) | 0;
    scratch[n + 2] = k;
    scratch.set(e.ops, n + 3);
    n += 3 + e.ops.length;
    return e.ends;
  });
  const o = scratch.slice(0, n);
  const retired = fall?.k ?? 0;
  const next = (pc + (fall?.bytes ?? 0)) | 0;
  let runs = 0;
  return (c: unknown) => {
    if (++runs === hot) onHot();
    for (let j = 0; j < o.length;) if ((j = templates[o[j]!]!(c, o, j)) === 1) return;
    const h = c as { instret: number; pc: number };
    h.instret += retired;
    h.pc = next;
  };
}
