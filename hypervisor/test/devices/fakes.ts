// Test doubles for what devices are wired to: a hand-driven clock, the hart's mip pins and
// PLIC input lines that remember their level.
import type { HartInterruptPins, IrqLine } from '../../src/bus/device.js';
import type { Clock } from '../../src/clock.js';

export class FakeClock implements Clock {
  constructor(public ticks = 0) {}
  now(): number {
    return this.ticks;
  }
  resumeAt(ticks: number): void {
    this.ticks = ticks;
  }
  msUntil(ticks: number): number {
    return Math.max(0, (ticks - this.ticks) / 10_000);
  }
}

export class FakePins implements HartInterruptPins {
  mip = 0;
  /** Every setPending call, to check that edges are driven once. */
  calls: Array<[number, boolean]> = [];
  setPending(mask: number, level: boolean): void {
    this.calls.push([mask, level]);
    this.mip = level ? this.mip | mask : this.mip & ~mask;
  }
  has(mask: number): boolean {
    return (this.mip & mask) !== 0;
  }
}

export class FakeIrq implements IrqLine {
  level = false;
  set(level: boolean): void {
    this.level = level;
  }
}

/** A snapshot section as it comes back from disk or the network. */
export const viaJson = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
