// The core-local interruptor (SiFive CLINT layout, as QEMU `virt` maps it at 0x0200_0000):
// the software interrupt bit (msip), the timer compare register (mtimecmp) and the timer
// (mtime), for one hart. mtime is not stored here: it is read from the board's Clock, so a
// guest that sleeps in WFI sees time pass without the device being ticked.
import type { AccessWidth, HartInterruptPins, MmioDevice } from '../../bus/device.js';
import type { Clock } from '../../clock.js';
import { Mip } from '../../cpu/mip.js';
import type { Persistent, StateSection } from '../../state/section.js';
import { CLINT_STATE_VERSION, parseClintState, type ClintState } from './persist.js';

/** Register offsets from the CLINT base (hart 0). */
export const ClintReg = {
  MSIP: 0x0000,
  MTIMECMP_LO: 0x4000,
  MTIMECMP_HI: 0x4004,
  MTIME_LO: 0xbff8,
  MTIME_HI: 0xbffc,
} as const;

const TWO_POW_32 = 0x1_0000_0000;
/** 64-bit values whose high word exceeds this are 2^53 or more: beyond any mtime a Clock returns. */
const MAX_EXACT_HI = 0x1f_ffff;

// 64-bit registers as lo/hi uint32 halves. JS numbers hold integers exactly only below 2^53,
// so 0xffff_ffff_ffff_ffff (mtimecmp's reset value) cannot be a number: it is kept as two
// words and read as Infinity, which compares correctly against every reachable mtime.

/** The low 32 bits of a non-negative integer below 2^53. */
export const lo32 = (v: number): number => (v % TWO_POW_32) >>> 0;
/** The high 32 bits of a non-negative integer below 2^53. */
export const hi32 = (v: number): number => Math.floor(v / TWO_POW_32) >>> 0;
/** The 64-bit value hi:lo as a number, or Infinity when it is 2^53 or more. */
export const join64 = (lo: number, hi: number): number =>
  hi >>> 0 > MAX_EXACT_HI ? Infinity : (hi >>> 0) * TWO_POW_32 + (lo >>> 0);

export class Clint implements MmioDevice, Persistent {
  readonly name = 'clint';

  /** Bit 0: the hart's machine software interrupt. */
  private msip = 0;
  private mtimecmpLo = 0xffff_ffff;
  private mtimecmpHi = 0xffff_ffff;

  /** The levels last driven onto the hart's pins, so they are only driven on change. */
  private msipLevel = false;
  private mtipLevel = false;

  constructor(
    readonly clock: Clock,
    private readonly pins: HartInterruptPins,
  ) {}

  /** mtimecmp as a number; Infinity when unreachable (2^53 or more). */
  get mtimecmp(): number {
    return join64(this.mtimecmpLo, this.mtimecmpHi);
  }

  read(offset: number, width: AccessWidth): number {
    // Only aligned 32-bit accesses reach the registers (rv32 has no 64-bit loads).
    if (width !== 4 || offset & 3) return 0;
    switch (offset) {
      case ClintReg.MSIP:
        return this.msip;
      case ClintReg.MTIMECMP_LO:
        return this.mtimecmpLo;
      case ClintReg.MTIMECMP_HI:
        return this.mtimecmpHi;
      case ClintReg.MTIME_LO:
      case ClintReg.MTIME_HI: {
        // A guest that polls mtime past mtimecmp must find MTIP already pending.
        const now = this.clock.now();
        this.update();
        return offset === ClintReg.MTIME_LO ? lo32(now) : hi32(now);
      }
      default:
        return 0;
    }
  }

  write(offset: number, width: AccessWidth, value: number): void {
    if (width !== 4 || offset & 3) return;
    value >>>= 0;
    switch (offset) {
      case ClintReg.MSIP:
        this.msip = value & 1;
        this.driveMsip(false);
        return;
      case ClintReg.MTIMECMP_LO:
        this.mtimecmpLo = value;
        this.update();
        return;
      case ClintReg.MTIMECMP_HI:
        this.mtimecmpHi = value;
        this.update();
        return;
      case ClintReg.MTIME_LO:
      case ClintReg.MTIME_HI: {
        // Writing one half keeps the other half of the running timer.
        const now = this.clock.now();
        const t = offset === ClintReg.MTIME_LO ? join64(value, hi32(now)) : join64(lo32(now), value);
        this.clock.resumeAt(Math.min(t, Number.MAX_SAFE_INTEGER));
        this.update();
        return;
      }
    }
  }

  /** Re-evaluates MTIP (mtime >= mtimecmp). The machine calls it periodically and on wake-ups. */
  update(): void {
    this.driveMtip(this.clock.now() >= this.mtimecmp, false);
  }

  /** The mtime at which MTIP will rise, or Infinity when it is already pending or never will. */
  nextDeadline(): number {
    return this.mtipLevel ? Infinity : this.mtimecmp;
  }

  /** Back to the power-on state: msip clear, mtimecmp all ones. mtime runs on (it is the board's clock). */
  reset(): void {
    this.msip = 0;
    this.mtimecmpLo = 0xffff_ffff;
    this.mtimecmpHi = 0xffff_ffff;
    this.resync();
  }

  saveState(): StateSection<ClintState> {
    const { msip, mtimecmpLo, mtimecmpHi } = this;
    return {
      name: this.name,
      version: CLINT_STATE_VERSION,
      data: { msip, mtimecmpLo, mtimecmpHi, mtime: this.clock.now() },
    };
  }

  /** Also re-bases the board clock on the saved mtime. */
  restoreState(section: StateSection): void {
    const s = parseClintState(section, this.name);
    this.clock.resumeAt(s.mtime);
    ({ msip: this.msip, mtimecmpLo: this.mtimecmpLo, mtimecmpHi: this.mtimecmpHi } = s);
    this.resync();
  }

  /** Drives both pins from the registers even if unchanged (after reset or restore). */
  private resync(): void {
    this.driveMsip(true);
    this.driveMtip(this.clock.now() >= this.mtimecmp, true);
  }

  private driveMsip(force: boolean): void {
    const level = (this.msip & 1) === 1;
    if (level === this.msipLevel && !force) return;
    this.msipLevel = level;
    this.pins.setPending(Mip.MSIP, level);
  }

  private driveMtip(level: boolean, force: boolean): void {
    if (level === this.mtipLevel && !force) return;
    this.mtipLevel = level;
    this.pins.setPending(Mip.MTIP, level);
  }
}
