// The M extension against BigInt arithmetic, over random values and the corner cases the spec
// fixes: division by zero and the one signed overflow, INT_MIN / -1 (unprivileged spec, 13.2).
import assert from 'node:assert/strict';
import * as A from '../../testing/asm.js';
import { allPairs, evalOp, randomWords } from './rig.js';

const INT_MIN = -0x8000_0000;
const INT_MAX = 0x7fff_ffff;

const s64 = (v: number): bigint => BigInt(v | 0);
const u64 = (v: number): bigint => BigInt(v >>> 0);
const lo = (v: bigint): number => Number(BigInt.asIntN(32, v));
const hi = (v: bigint): number => Number(BigInt.asIntN(32, v >> 32n));

type Model = (a: number, b: number) => number;

const OPS: Array<[string, (rd: number, rs1: number, rs2: number) => number, Model]> = [
  ['mul', A.mul, (a, b) => lo(s64(a) * s64(b))],
  ['mulh', A.mulh, (a, b) => hi(s64(a) * s64(b))],
  ['mulhsu', A.mulhsu, (a, b) => hi(s64(a) * u64(b))],
  ['mulhu', A.mulhu, (a, b) => hi(u64(a) * u64(b))],
  // BigInt division truncates toward zero and the remainder takes the dividend's sign, as in RISC-V.
  ['div', A.div, (a, b) => (b === 0 ? -1 : a === INT_MIN && b === -1 ? INT_MIN : lo(s64(a) / s64(b)))],
  ['divu', A.divu, (a, b) => (b === 0 ? -1 : lo(u64(a) / u64(b)))],
  ['rem', A.rem, (a, b) => (b === 0 ? a : a === INT_MIN && b === -1 ? 0 : lo(s64(a) % s64(b)))],
  ['remu', A.remu, (a, b) => (b === 0 ? a : lo(u64(a) % u64(b)))],
];

const EDGES = [0, 1, -1, 2, -2, 3, 7, INT_MIN, INT_MAX, INT_MIN + 1, 0xffff, 0x10000, -0x10000, 0x7fff_8000];

/** [op, a, b, result]: the spec's table of division corner cases and a few products by hand. */
const HAND: Array<[string, (rd: number, rs1: number, rs2: number) => number, number, number, number]> = [
  ['div by zero', A.div, 7, 0, -1],
  ['divu by zero', A.divu, 7, 0, -1],
  ['rem by zero', A.rem, -7, 0, -7],
  ['remu by zero', A.remu, 7, 0, 7],
  ['div overflow', A.div, INT_MIN, -1, INT_MIN],
  ['rem overflow', A.rem, INT_MIN, -1, 0],
  ['div rounds toward zero', A.div, -7, 2, -3],
  ['rem takes the dividend sign', A.rem, -7, 2, -1],
  ['rem with negative divisor', A.rem, 7, -2, 1],
  ['divu of a negative', A.divu, -2, 2, INT_MAX],
  ['mulhu of all ones', A.mulhu, -1, -1, -2],
  ['mulh of all ones', A.mulh, -1, -1, 0],
  ['mulhsu -1 by 2^32-1', A.mulhsu, -1, -1, -1],
  ['mulh INT_MIN squared', A.mulh, INT_MIN, INT_MIN, 0x4000_0000],
];

describe('RV32M', () => {
  const next = randomWords(0x5eed);
  // Random values with random magnitudes, so small, mid-size and full-width operands all occur.
  const random = Array.from({ length: 300 }, (): [number, number] => [
    next() >> (next() & 31),
    next() >> (next() & 31),
  ]);

  for (const [name, op, model] of OPS) {
    it(`${name} matches BigInt over edge and random values`, () => {
      const pairs = [...allPairs(EDGES), ...random];
      const got = evalOp(op, pairs);
      pairs.forEach(([a, b], i) => assert.equal(got[i], model(a, b), `${name} ${a}, ${b}`));
    });
  }

  for (const [what, op, a, b, want] of HAND) {
    it(`${what}: ${a}, ${b} -> ${want}`, () => assert.equal(evalOp(op, [[a, b]])[0], want));
  }
});
