// Control and status registers (privileged spec 1.12, chapters 2, 3 and 4): numbers, write
// masks and the read/write rules for the subset an RV32IMAC hart with S and U modes has, and the
// debug spec's trigger CSRs for a hart without triggers.
import { Priv } from './exceptions.js';
import type { Hart } from './hart.js';
import { Mip } from './mip.js';

export const enum Csr {
  sstatus = 0x100,
  sie = 0x104,
  stvec = 0x105,
  scounteren = 0x106,
  senvcfg = 0x10a,
  sscratch = 0x140,
  sepc = 0x141,
  scause = 0x142,
  stval = 0x143,
  sip = 0x144,
  satp = 0x180,
  mstatus = 0x300,
  misa = 0x301,
  medeleg = 0x302,
  mideleg = 0x303,
  mie = 0x304,
  mtvec = 0x305,
  mcounteren = 0x306,
  menvcfg = 0x30a,
  mstatush = 0x310,
  menvcfgh = 0x31a,
  mcountinhibit = 0x320,
  mscratch = 0x340,
  mepc = 0x341,
  mcause = 0x342,
  mtval = 0x343,
  mip = 0x344,
  pmpcfg0 = 0x3a0,
  pmpaddr0 = 0x3b0,
  tselect = 0x7a0,
  tdata1 = 0x7a1,
  tdata2 = 0x7a2,
  tdata3 = 0x7a3,
  tinfo = 0x7a4,
  mcycle = 0xb00,
  minstret = 0xb02,
  mcycleh = 0xb80,
  minstreth = 0xb82,
  cycle = 0xc00,
  time = 0xc01,
  instret = 0xc02,
  cycleh = 0xc80,
  timeh = 0xc81,
  instreth = 0xc82,
  mvendorid = 0xf11,
  marchid = 0xf12,
  mimpid = 0xf13,
  mhartid = 0xf14,
  mconfigptr = 0xf15,
}

export const Mstatus = {
  SIE: 1 << 1,
  MIE: 1 << 3,
  SPIE: 1 << 5,
  MPIE: 1 << 7,
  SPP: 1 << 8,
  MPP: 3 << 11,
  MPRV: 1 << 17,
  SUM: 1 << 18,
  MXR: 1 << 19,
  TVM: 1 << 20,
  TW: 1 << 21,
  TSR: 1 << 22,
} as const;
const MPP_SHIFT = 11;

/** Bits software may change; FS/VS/XS stay 0 (no F, V or custom state), so SD stays 0 too. */
const MSTATUS_WRITABLE =
  Mstatus.SIE |
  Mstatus.MIE |
  Mstatus.SPIE |
  Mstatus.MPIE |
  Mstatus.SPP |
  Mstatus.MPP |
  Mstatus.MPRV |
  Mstatus.SUM |
  Mstatus.MXR |
  Mstatus.TVM |
  Mstatus.TW |
  Mstatus.TSR;
const SSTATUS_VIEW = Mstatus.SIE | Mstatus.SPIE | Mstatus.SPP | Mstatus.SUM | Mstatus.MXR;
/** Exceptions that can be delegated: all but ecall from M and the reserved codes 10 and 14. */
const MEDELEG_WRITABLE = 0xb3ff;
const MIDELEG_WRITABLE = Mip.SSIP | Mip.STIP | Mip.SEIP;
const MIE_WRITABLE = Mip.SSIP | Mip.MSIP | Mip.STIP | Mip.MTIP | Mip.SEIP | Mip.MEIP;
/** mip bits M-mode software may set; the others follow the CLINT and PLIC. */
const MIP_SOFT = Mip.SSIP | Mip.STIP | Mip.SEIP;
/**
 * RV32 (MXL=1) with A, C, I, M, S, U. Read-only, as misa may be: C cannot be turned off, so
 * IALIGN is always 16 and mepc/sepc bit 1 is never masked.
 */
export const MISA = (1 << 30) | (1 << 0) | (1 << 2) | (1 << 8) | (1 << 12) | (1 << 18) | (1 << 20);
const PMP_LOCK = 0x80;

/** Fields changed by a CSR write that the translation state depends on. */
const MSTATUS_MMU = Mstatus.MPRV | Mstatus.MPP | Mstatus.SUM | Mstatus.MXR;

export const ILLEGAL = Symbol('illegal');
type CsrResult = number | typeof ILLEGAL;

/** Counter CSRs visible below M only when mcounteren (and scounteren for U) allow them. */
function counterAllowed(h: Hart, index: number): boolean {
  if (h.priv === Priv.Machine) return true;
  if (!((h.mcounteren >>> index) & 1)) return false;
  return h.priv === Priv.Supervisor || ((h.scounteren >>> index) & 1) === 1;
}

export function csrRead(h: Hart, csr: number): CsrResult {
  if (((csr >>> 8) & 3) > h.priv) return ILLEGAL;
  switch (csr) {
    case Csr.sstatus:
      return h.mstatus & SSTATUS_VIEW;
    case Csr.sie:
      return h.mie & h.mideleg;
    case Csr.stvec:
      return h.stvec;
    case Csr.scounteren:
      return h.scounteren;
    case Csr.senvcfg:
      return h.senvcfg;
    case Csr.sscratch:
      return h.sscratch;
    case Csr.sepc:
      return h.sepc;
    case Csr.scause:
      return h.scause;
    case Csr.stval:
      return h.stval;
    case Csr.sip:
      return h.mip & h.mideleg;
    case Csr.satp:
      if (h.priv === Priv.Supervisor && h.mstatus & Mstatus.TVM) return ILLEGAL;
      return h.satp;
    case Csr.mstatus:
      return h.mstatus;
    case Csr.misa:
      return MISA;
    case Csr.medeleg:
      return h.medeleg;
    case Csr.mideleg:
      return h.mideleg;
    case Csr.mie:
      return h.mie;
    case Csr.mtvec:
      return h.mtvec;
    case Csr.mcounteren:
      return h.mcounteren;
    case Csr.menvcfg:
      return h.menvcfg;
    case Csr.mstatush:
    case Csr.menvcfgh:
    case Csr.mcountinhibit:
      return 0;
    // No triggers (debug spec, Sdtrig): tselect is WARL with no legal value but 0, tdata1 reads
    // type 0 ("no trigger here") with dmode and data hard-wired to 0, tdata2/3 hold nothing.
    case Csr.tselect:
    case Csr.tdata1:
    case Csr.tdata2:
    case Csr.tdata3:
      return 0;
    case Csr.tinfo:
      // One bit per supported tdata1 type; for a trigger that does not exist, 1 (type 0 only).
      return 1;
    case Csr.mscratch:
      return h.mscratch;
    case Csr.mepc:
      return h.mepc;
    case Csr.mcause:
      return h.mcause;
    case Csr.mtval:
      return h.mtval;
    case Csr.mip:
      return h.mip;
    case Csr.mvendorid:
    case Csr.marchid:
    case Csr.mimpid:
    case Csr.mhartid:
    case Csr.mconfigptr:
      return 0;
    case Csr.mcycle:
    case Csr.minstret:
      return lo32(h.retired());
    case Csr.mcycleh:
    case Csr.minstreth:
      return hi32(h.retired());
  }
  if (csr >= Csr.pmpcfg0 && csr < Csr.pmpcfg0 + 4) return h.pmpcfg[csr - Csr.pmpcfg0]!;
  if (csr >= Csr.pmpaddr0 && csr < Csr.pmpaddr0 + 16) return h.pmpaddr[csr - Csr.pmpaddr0]!;
  // Unprivileged counters: cycle and instret are the same count (one instruction per cycle).
  if ((csr >= Csr.cycle && csr <= 0xc1f) || (csr >= Csr.cycleh && csr <= 0xc9f)) {
    const index = csr & 0x1f;
    if (!counterAllowed(h, index)) return ILLEGAL;
    const high = csr >= Csr.cycleh;
    if (index === 1) return high ? hi32(h.time()) : lo32(h.time());
    if (index === 0 || index === 2) return high ? hi32(h.retired()) : lo32(h.retired());
    return 0;
  }
  // mhpmcounter3..31(h) and mhpmevent3..31: present, hardwired to zero.
  if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0xb83 && csr <= 0xb9f) || (csr >= 0x323 && csr <= 0x33f)) return 0;
  return ILLEGAL;
}

/** Writes a CSR; returns false when the write is illegal (read-only CSR or privilege). */
export function csrWrite(h: Hart, csr: number, v: number): boolean {
  if (((csr >>> 8) & 3) > h.priv || csr >>> 10 === 3) return false;
  switch (csr) {
    case Csr.sstatus:
      setMstatus(h, (h.mstatus & ~SSTATUS_VIEW) | (v & SSTATUS_VIEW));
      return true;
    case Csr.sie:
      h.mie = (h.mie & ~h.mideleg) | (v & h.mideleg & MIE_WRITABLE);
      return true;
    case Csr.stvec:
      h.stvec = legalTvec(v);
      return true;
    case Csr.scounteren:
      h.scounteren = v;
      return true;
    case Csr.senvcfg:
      h.senvcfg = v & 1;
      return true;
    case Csr.sscratch:
      h.sscratch = v;
      return true;
    case Csr.sepc:
      h.sepc = v & ~1;
      return true;
    case Csr.scause:
      h.scause = v;
      return true;
    case Csr.stval:
      h.stval = v;
      return true;
    case Csr.sip: {
      // Only SSIP is writable from S-mode (when delegated).
      const mask = Mip.SSIP & h.mideleg;
      h.mipSoft = (h.mipSoft & ~mask) | (v & mask);
      h.updateMip();
      return true;
    }
    case Csr.satp:
      if (h.priv === Priv.Supervisor && h.mstatus & Mstatus.TVM) return false;
      // ASIDLEN = 0: the ASID field is read-only zero, as the spec allows.
      h.satp = v & 0x803f_ffff;
      h.translationChanged(true);
      return true;
    case Csr.mstatus:
      setMstatus(h, v);
      return true;
    case Csr.misa:
      return true;
    case Csr.medeleg:
      h.medeleg = v & MEDELEG_WRITABLE;
      return true;
    case Csr.mideleg:
      h.mideleg = v & MIDELEG_WRITABLE;
      return true;
    case Csr.mie:
      h.mie = v & MIE_WRITABLE;
      return true;
    case Csr.mtvec:
      h.mtvec = legalTvec(v);
      return true;
    case Csr.mcounteren:
      h.mcounteren = v;
      return true;
    case Csr.menvcfg:
      h.menvcfg = v & 1;
      return true;
    case Csr.mstatush:
    case Csr.menvcfgh:
    case Csr.mcountinhibit:
    case Csr.tselect:
    case Csr.tdata1:
    case Csr.tdata2:
    case Csr.tdata3:
      return true;
    case Csr.mscratch:
      h.mscratch = v;
      return true;
    case Csr.mepc:
      h.mepc = v & ~1;
      return true;
    case Csr.mcause:
      h.mcause = v;
      return true;
    case Csr.mtval:
      h.mtval = v;
      return true;
    case Csr.mip:
      h.mipSoft = (h.mipSoft & ~MIP_SOFT) | (v & MIP_SOFT);
      h.updateMip();
      return true;
    case Csr.mcycle:
    case Csr.minstret:
      h.setRetired(hi32(h.retired()) * 2 ** 32 + (v >>> 0));
      return true;
    case Csr.mcycleh:
    case Csr.minstreth:
      h.setRetired((v >>> 0) * 2 ** 32 + (lo32(h.retired()) >>> 0));
      return true;
  }
  if (csr >= Csr.pmpcfg0 && csr < Csr.pmpcfg0 + 4) {
    const i = csr - Csr.pmpcfg0;
    const old = h.pmpcfg[i]!;
    let out = 0;
    for (let b = 0; b < 32; b += 8) {
      const oldByte = (old >>> b) & 0xff;
      out |= (oldByte & PMP_LOCK ? oldByte : (v >>> b) & 0xff) << b;
    }
    h.pmpcfg[i] = out;
    return true;
  }
  if (csr >= Csr.pmpaddr0 && csr < Csr.pmpaddr0 + 16) {
    const i = csr - Csr.pmpaddr0;
    if (!((h.pmpcfg[i >>> 2]! >>> ((i & 3) * 8)) & PMP_LOCK)) h.pmpaddr[i] = v;
    return true;
  }
  if ((csr >= 0xb03 && csr <= 0xb1f) || (csr >= 0xb83 && csr <= 0xb9f) || (csr >= 0x323 && csr <= 0x33f)) return true;
  return false;
}

function setMstatus(h: Hart, v: number): void {
  let next = (h.mstatus & ~MSTATUS_WRITABLE) | (v & MSTATUS_WRITABLE);
  // MPP is WARL over {U, S, M}: the reserved value 2 reads back as U.
  if (((next >>> MPP_SHIFT) & 3) === 2) next &= ~Mstatus.MPP;
  const changed = h.mstatus ^ next;
  h.mstatus = next;
  if (changed & MSTATUS_MMU) h.mstatusChanged(changed);
}

/** MODE 0 (direct) or 1 (vectored); other modes are reserved and read back as direct. */
function legalTvec(v: number): number {
  return (v & 3) === 1 ? v & ~2 : v & ~3;
}

const lo32 = (n: number): number => (n % 2 ** 32) | 0;
const hi32 = (n: number): number => Math.floor(n / 2 ** 32) | 0;

export const mppOf = (mstatus: number): Priv => ((mstatus >>> MPP_SHIFT) & 3) as Priv;
export const withMpp = (mstatus: number, p: Priv): number => (mstatus & ~Mstatus.MPP) | (p << MPP_SHIFT);
