// The SBI served by the VMM itself, as KVM serves it to RISC-V guests (SBI spec v1.0): base,
// TIME, IPI, RFENCE, HSM, SRST and the legacy console/timer/shutdown calls. The kernel's ecalls
// from S-mode land here instead of in an M-mode firmware.
import type { Clock } from '../../clock.js';
import type { Hart } from '../../cpu/hart.js';
import { Mip } from '../../cpu/mip.js';

const enum Ext {
  LegacySetTimer = 0x00,
  LegacyPutchar = 0x01,
  LegacyGetchar = 0x02,
  LegacyClearIpi = 0x03,
  LegacySendIpi = 0x04,
  LegacyFenceI = 0x05,
  LegacySfenceVma = 0x06,
  LegacySfenceVmaAsid = 0x07,
  LegacyShutdown = 0x08,
  Base = 0x10,
  Time = 0x5449_4d45,
  Ipi = 0x0073_5049,
  Rfence = 0x5246_4e43,
  Hsm = 0x0048_534d,
  Srst = 0x5352_5354,
}

const enum Err {
  Success = 0,
  Failed = -1,
  NotSupported = -2,
  InvalidParam = -3,
  AlreadyAvailable = -6,
}

/** SBI v1.0. */
const SPEC_VERSION = 1 << 24;
/** Not a registered implementation id: "HN" for Hypernova. */
const IMPL_ID = 0x484e;
const IMPL_VERSION = 1;

const SUPPORTED = new Set<number>([
  Ext.LegacySetTimer,
  Ext.LegacyPutchar,
  Ext.LegacyGetchar,
  Ext.LegacyClearIpi,
  Ext.LegacySendIpi,
  Ext.LegacyFenceI,
  Ext.LegacySfenceVma,
  Ext.LegacySfenceVmaAsid,
  Ext.LegacyShutdown,
  Ext.Base,
  Ext.Time,
  Ext.Ipi,
  Ext.Rfence,
  Ext.Hsm,
  Ext.Srst,
]);

export interface SbiPlatform {
  putchar(byte: number): void;
  /** Next input byte, or -1 when none is waiting. */
  getchar(): number;
  reset(kind: 'poweroff' | 'reboot', reason: number): void;
}

export class Sbi {
  /** The S-mode timer deadline (mtime ticks) set through sbi_set_timer; Infinity when unarmed. */
  timerDeadline = Infinity;

  constructor(
    private readonly hart: Hart,
    private readonly clock: Clock,
    private readonly platform: SbiPlatform,
  ) {}

  /** The hart's ecall handler for S-mode calls. Always handles the call. */
  readonly handle = (h: Hart): boolean => {
    const x = h.x;
    const eid = x[17]! >>> 0;
    const fid = x[16]!;
    const [error, value] = this.call(eid, fid, x[10]!, x[11]!);
    if (eid <= Ext.LegacyShutdown) {
      // Legacy calls return one value in a0.
      x[10] = eid === Ext.LegacyGetchar ? value : error;
    } else {
      x[10] = error;
      x[11] = value;
    }
    return true;
  };

  /** Back to the power-on state: no S-mode timer armed (the new kernel arms its own). */
  reset(): void {
    this.timerDeadline = Infinity;
    this.updateTimer();
  }

  /** Re-evaluates STIP from the clock; the machine calls it periodically and on wake-up. */
  updateTimer(): void {
    this.hart.setPending(Mip.STIP, this.clock.now() >= this.timerDeadline);
  }

  nextDeadline(): number {
    return this.hart.mipHw & Mip.STIP ? Infinity : this.timerDeadline;
  }

  private setTimer(lo: number, hi: number): void {
    const t = (hi >>> 0) * 2 ** 32 + (lo >>> 0);
    // All-ones means "no timer" (Linux uses it to disarm).
    this.timerDeadline = t >= 2 ** 53 ? Infinity : t;
    this.updateTimer();
  }

  private call(eid: number, fid: number, a0: number, a1: number): [number, number] {
    switch (eid) {
      case Ext.LegacySetTimer:
        this.setTimer(a0, a1);
        return [Err.Success, 0];
      case Ext.LegacyPutchar:
        this.platform.putchar(a0 & 0xff);
        return [Err.Success, 0];
      case Ext.LegacyGetchar:
        return [Err.Success, this.platform.getchar()];
      case Ext.LegacyClearIpi:
        this.hart.mipSoft &= ~Mip.SSIP;
        this.hart.updateMip();
        return [Err.Success, 0];
      case Ext.LegacySendIpi:
        this.raiseIpi();
        return [Err.Success, 0];
      case Ext.LegacyFenceI:
        return [Err.Success, 0];
      case Ext.LegacySfenceVma:
      case Ext.LegacySfenceVmaAsid:
        this.hart.translationChanged(false);
        return [Err.Success, 0];
      case Ext.LegacyShutdown:
        this.platform.reset('poweroff', 0);
        return [Err.Success, 0];
      case Ext.Base:
        return this.base(fid, a0);
      case Ext.Time:
        if (fid !== 0) return [Err.NotSupported, 0];
        this.setTimer(a0, a1);
        return [Err.Success, 0];
      case Ext.Ipi:
        if (fid !== 0) return [Err.NotSupported, 0];
        if (this.targetsHart0(a0, a1)) this.raiseIpi();
        return [Err.Success, 0];
      case Ext.Rfence:
        if (fid > 6) return [Err.NotSupported, 0];
        // One hart: remote fences are local ones; fence.i needs nothing (stores drop stale code).
        if (fid !== 0) this.hart.translationChanged(false);
        return [Err.Success, 0];
      case Ext.Hsm:
        return this.hsm(fid, a0);
      case Ext.Srst:
        if (fid !== 0) return [Err.NotSupported, 0];
        if (a0 === 0) this.platform.reset('poweroff', a1);
        else if (a0 === 1 || a0 === 2) this.platform.reset('reboot', a1);
        else return [Err.InvalidParam, 0];
        return [Err.Success, 0];
    }
    return [Err.NotSupported, 0];
  }

  private base(fid: number, a0: number): [number, number] {
    switch (fid) {
      case 0:
        return [Err.Success, SPEC_VERSION];
      case 1:
        return [Err.Success, IMPL_ID];
      case 2:
        return [Err.Success, IMPL_VERSION];
      case 3:
        return [Err.Success, SUPPORTED.has(a0 >>> 0) ? 1 : 0];
      case 4:
      case 5:
      case 6:
        return [Err.Success, 0];
    }
    return [Err.NotSupported, 0];
  }

  private hsm(fid: number, a0: number): [number, number] {
    switch (fid) {
      case 0:
        return [a0 === 0 ? Err.AlreadyAvailable : Err.InvalidParam, 0];
      case 1:
        return [Err.Failed, 0];
      case 2:
        return a0 === 0 ? [Err.Success, 0] : [Err.InvalidParam, 0];
      case 3:
        // Default retentive suspend behaves as WFI.
        if (a0IsRetentive(a0)) {
          if ((this.hart.mip & this.hart.mie) === 0) this.hart.wfi = true;
          return [Err.Success, 0];
        }
        return [Err.NotSupported, 0];
    }
    return [Err.NotSupported, 0];
  }

  /** hart_mask is relative to hart_mask_base; a base of -1 means every hart. */
  private targetsHart0(mask: number, base: number): boolean {
    return base === -1 || (base === 0 && (mask & 1) === 1);
  }

  private raiseIpi(): void {
    this.hart.mipSoft |= Mip.SSIP;
    this.hart.updateMip();
  }
}

const a0IsRetentive = (suspendType: number): boolean => suspendType >>> 0 < 0x8000_0000;
