// The platform-level interrupt controller, configured as QEMU `virt` does: 96 sources (0 is
// reserved and never fires), priorities 0..7, and two contexts per hart, M-mode then S-mode
// ("MS"), whose outputs drive the hart's MEIP and SEIP.
//
// Every source is level-triggered through a gateway: while a source is claimed its level is
// not forwarded; on completion the gateway looks at the level again. A source's pending bit
// follows its level until it is claimed (as QEMU does), so a device that drops its request
// before the claim does not leave a spurious interrupt behind.
import type { AccessWidth, HartInterruptPins, IrqLine, MmioDevice } from '../../bus/device.js';
import { Mip } from '../../cpu/mip.js';
import type { Persistent, StateSection } from '../../state/section.js';
import { parsePlicState, PLIC_STATE_VERSION, type PlicState } from './persist.js';

export const PLIC_NUM_SOURCES = 96;
export const PLIC_MAX_PRIORITY = 7;
/** 32-bit words in each source bitmap (pending, enables, ...). */
export const PLIC_WORDS = PLIC_NUM_SOURCES / 32;

/** Register offsets from the PLIC base. */
export const PlicReg = {
  PRIORITY: 0x0,
  PENDING: 0x1000,
  ENABLE: 0x2000,
  ENABLE_STRIDE: 0x80,
  CONTEXT: 0x20_0000,
  CONTEXT_STRIDE: 0x1000,
  /** Within a context's block. */
  THRESHOLD: 0x0,
  CLAIM_COMPLETE: 0x4,
} as const;

/** Where a context's output goes: one pin (mip bit) of one hart. */
export interface PlicContextTarget {
  pins: HartInterruptPins;
  mip: number;
}

export class Plic implements MmioDevice, Persistent {
  readonly name = 'plic';

  private readonly priority = new Uint8Array(PLIC_NUM_SOURCES);
  /** Requests forwarded by the gateways and not yet claimed. */
  private readonly pending = new Uint32Array(PLIC_WORDS);
  /** Sources claimed by some context and not yet completed. */
  private readonly claimed = new Uint32Array(PLIC_WORDS);
  /** The current input levels driven by the devices. */
  private readonly level = new Uint32Array(PLIC_WORDS);
  /** enable[ctx][word] */
  private readonly enable: Uint32Array[];
  /** threshold[ctx] */
  private readonly threshold: Uint8Array;

  readonly contexts: readonly PlicContextTarget[];
  private readonly outputs: boolean[];

  /** Two contexts per hart: context 2h is hart h's M-mode (MEIP), 2h+1 its S-mode (SEIP). */
  constructor(harts: HartInterruptPins | readonly HartInterruptPins[]) {
    const list = Array.isArray(harts) ? (harts as readonly HartInterruptPins[]) : [harts as HartInterruptPins];
    this.contexts = list.flatMap((pins) => [
      { pins, mip: Mip.MEIP },
      { pins, mip: Mip.SEIP },
    ]);
    this.enable = this.contexts.map(() => new Uint32Array(PLIC_WORDS));
    this.threshold = new Uint8Array(this.contexts.length);
    this.outputs = this.contexts.map(() => false);
  }

  /** The input wire of source `irq` (1..95), for a device to drive. */
  line(irq: number): IrqLine {
    if (!Number.isInteger(irq) || irq < 1 || irq >= PLIC_NUM_SOURCES) {
      throw new RangeError(`PLIC source ${irq} out of range 1..${PLIC_NUM_SOURCES - 1}`);
    }
    return { set: (level: boolean) => this.setLevel(irq, level) };
  }

  setLevel(irq: number, level: boolean): void {
    const w = irq >>> 5;
    const bit = 1 << (irq & 31);
    const before = this.level[w]!;
    this.level[w] = level ? before | bit : before & ~bit;
    if (this.claimed[w]! & bit) return; // the gateway holds it until completion
    this.setPending(w, bit, level);
    this.update(false);
  }

  read(offset: number, width: AccessWidth): number {
    if (width !== 4 || offset & 3) return 0;
    if (offset < PlicReg.PENDING) {
      const id = offset >>> 2;
      return id < PLIC_NUM_SOURCES ? this.priority[id]! : 0;
    }
    if (offset < PlicReg.ENABLE) {
      const w = (offset - PlicReg.PENDING) >>> 2;
      return w < PLIC_WORDS ? this.pending[w]! : 0;
    }
    if (offset < PlicReg.CONTEXT) {
      const { ctx, w } = this.enableWord(offset);
      return ctx < this.contexts.length && w < PLIC_WORDS ? this.enable[ctx]![w]! : 0;
    }
    const ctx = (offset - PlicReg.CONTEXT) >>> 12;
    if (ctx >= this.contexts.length) return 0;
    switch (offset & 0xfff) {
      case PlicReg.THRESHOLD:
        return this.threshold[ctx]!;
      case PlicReg.CLAIM_COMPLETE:
        return this.claim(ctx);
      default:
        return 0;
    }
  }

  write(offset: number, width: AccessWidth, value: number): void {
    if (width !== 4 || offset & 3) return;
    value >>>= 0;
    if (offset < PlicReg.PENDING) {
      const id = offset >>> 2;
      if (id === 0 || id >= PLIC_NUM_SOURCES) return;
      this.priority[id] = value & PLIC_MAX_PRIORITY;
    } else if (offset < PlicReg.ENABLE) {
      return; // pending bits are read-only
    } else if (offset < PlicReg.CONTEXT) {
      const { ctx, w } = this.enableWord(offset);
      if (ctx >= this.contexts.length || w >= PLIC_WORDS) return;
      this.enable[ctx]![w] = w === 0 ? value & ~1 : value; // source 0 cannot be enabled
    } else {
      const ctx = (offset - PlicReg.CONTEXT) >>> 12;
      if (ctx >= this.contexts.length) return;
      const reg = offset & 0xfff;
      if (reg === PlicReg.THRESHOLD) this.threshold[ctx] = value & PLIC_MAX_PRIORITY;
      else if (reg === PlicReg.CLAIM_COMPLETE) this.complete(value);
      else return;
    }
    this.update(false);
  }

  /**
   * Back to the power-on state: priorities, enables and thresholds zero, nothing claimed. The
   * sources' input lines are wires, not registers: a line still high is pending again.
   */
  reset(): void {
    this.priority.fill(0);
    this.claimed.fill(0);
    this.pending.set(this.level);
    for (const e of this.enable) e.fill(0);
    this.threshold.fill(0);
    this.update(true);
  }

  saveState(): StateSection<PlicState> {
    return {
      name: this.name,
      version: PLIC_STATE_VERSION,
      data: {
        priority: Array.from(this.priority),
        pending: Array.from(this.pending),
        claimed: Array.from(this.claimed),
        level: Array.from(this.level),
        enable: this.enable.map((e) => Array.from(e)),
        threshold: Array.from(this.threshold),
      },
    };
  }

  /** The context outputs are driven again from the restored registers. */
  restoreState(section: StateSection): void {
    const s = parsePlicState(section, { name: this.name, sources: PLIC_NUM_SOURCES, contexts: this.contexts.length });
    this.priority.set(s.priority);
    this.pending.set(s.pending);
    this.claimed.set(s.claimed);
    this.level.set(s.level);
    s.enable.forEach((e, ctx) => this.enable[ctx]!.set(e));
    this.threshold.set(s.threshold);
    this.update(true);
  }

  /** The interrupt a claim by `ctx` would return now (0 = none), without claiming it. */
  best(ctx: number): number {
    const en = this.enable[ctx]!;
    const threshold = this.threshold[ctx]!;
    let bestId = 0;
    let bestPrio = threshold;
    for (let w = 0; w < PLIC_WORDS; w++) {
      let cand = this.pending[w]! & en[w]!;
      while (cand !== 0) {
        const bit = 31 - Math.clz32(cand & -cand); // lowest first, so ties go to the lowest id
        cand &= cand - 1;
        const id = (w << 5) | bit;
        if (this.priority[id]! > bestPrio) {
          bestPrio = this.priority[id]!;
          bestId = id;
        }
      }
    }
    return bestId;
  }

  private claim(ctx: number): number {
    const id = this.best(ctx);
    if (id !== 0) {
      const w = id >>> 5;
      const bit = 1 << (id & 31);
      this.setPending(w, bit, false);
      this.claimed[w] = this.claimed[w]! | bit;
      this.update(false);
    }
    return id;
  }

  // Like QEMU, completion is accepted from any context whether or not the source is enabled
  // there; completing a source that is not claimed does nothing.
  private complete(id: number): void {
    if (id === 0 || id >= PLIC_NUM_SOURCES) return;
    const w = id >>> 5;
    const bit = 1 << (id & 31);
    if (!(this.claimed[w]! & bit)) return;
    this.claimed[w] = this.claimed[w]! & ~bit;
    this.setPending(w, bit, (this.level[w]! & bit) !== 0);
  }

  private setPending(w: number, bit: number, on: boolean): void {
    this.pending[w] = on ? this.pending[w]! | bit : this.pending[w]! & ~bit;
  }

  private enableWord(offset: number): { ctx: number; w: number } {
    const rel = offset - PlicReg.ENABLE;
    return { ctx: Math.floor(rel / PlicReg.ENABLE_STRIDE), w: (rel % PlicReg.ENABLE_STRIDE) >>> 2 };
  }

  private update(force: boolean): void {
    for (let ctx = 0; ctx < this.contexts.length; ctx++) {
      const level = this.best(ctx) !== 0;
      if (level === this.outputs[ctx] && !force) continue;
      this.outputs[ctx] = level;
      const t = this.contexts[ctx]!;
      t.pins.setPending(t.mip, level);
    }
  }
}
