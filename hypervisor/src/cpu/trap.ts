// Trap entry and return, and interrupt selection (privileged spec 1.12, sections 3.1.6–3.1.9,
// 3.3.2 and 4.1.1): delegation through medeleg/mideleg, the xIE/xPIE/xPP stacks, priorities.
import { Mstatus, mppOf, withMpp } from './csr.js';
import { Priv } from './exceptions.js';
import type { Hart } from './hart.js';

/** Interrupt causes from highest to lowest priority: MEI, MSI, MTI, SEI, SSI, STI. */
const PRIORITY = [11, 3, 7, 9, 1, 5];

export function enterTrap(h: Hart, cause: number, tval: number, interrupt: boolean): void {
  const from = h.priv;
  const delegated = from <= Priv.Supervisor && (((interrupt ? h.mideleg : h.medeleg) >>> cause) & 1) === 1;
  let s = h.mstatus;
  if (delegated) {
    h.scause = (interrupt ? 0x8000_0000 : 0) | cause;
    h.sepc = h.pc;
    h.stval = tval;
    s = s & Mstatus.SIE ? s | Mstatus.SPIE : s & ~Mstatus.SPIE;
    s = from === Priv.Supervisor ? s | Mstatus.SPP : s & ~Mstatus.SPP;
    h.mstatus = s & ~Mstatus.SIE;
    h.pc = vectorTarget(h.stvec, cause, interrupt);
    h.setPriv(Priv.Supervisor);
  } else {
    h.mcause = (interrupt ? 0x8000_0000 : 0) | cause;
    h.mepc = h.pc;
    h.mtval = tval;
    s = s & Mstatus.MIE ? s | Mstatus.MPIE : s & ~Mstatus.MPIE;
    h.mstatus = withMpp(s, from) & ~Mstatus.MIE;
    h.pc = vectorTarget(h.mtvec, cause, interrupt);
    h.setPriv(Priv.Machine);
  }
}

const vectorTarget = (tvec: number, cause: number, interrupt: boolean): number =>
  interrupt && tvec & 1 ? ((tvec & ~3) + 4 * cause) | 0 : tvec & ~3;

/** Takes the highest-priority pending and enabled interrupt, if any. Returns whether one was taken. */
export function takeInterrupt(h: Hart): boolean {
  const pending = h.mip & h.mie;
  if (pending === 0) return false;
  const p = h.priv;
  const mEnabled = p < Priv.Machine || (h.mstatus & Mstatus.MIE) !== 0;
  const sEnabled = p < Priv.Supervisor || (p === Priv.Supervisor && (h.mstatus & Mstatus.SIE) !== 0);
  const m = mEnabled ? pending & ~h.mideleg : 0;
  const chosen = m !== 0 ? m : sEnabled ? pending & h.mideleg : 0;
  if (chosen === 0) return false;
  for (const cause of PRIORITY) {
    if ((chosen >>> cause) & 1) {
      enterTrap(h, cause, 0, true);
      return true;
    }
  }
  return false;
}

/** mret; false when not allowed (illegal instruction). */
export function mret(h: Hart): boolean {
  if (h.priv !== Priv.Machine) return false;
  let s = h.mstatus;
  const to = mppOf(s);
  s = s & Mstatus.MPIE ? s | Mstatus.MIE : s & ~Mstatus.MIE;
  s = withMpp(s | Mstatus.MPIE, Priv.User);
  if (to !== Priv.Machine) s &= ~Mstatus.MPRV;
  h.mstatus = s;
  h.pc = h.mepc;
  h.setPriv(to);
  return true;
}

/** sret; false when not allowed (illegal instruction). */
export function sret(h: Hart): boolean {
  if (h.priv === Priv.User || (h.priv === Priv.Supervisor && h.mstatus & Mstatus.TSR)) return false;
  let s = h.mstatus;
  const to = s & Mstatus.SPP ? Priv.Supervisor : Priv.User;
  s = s & Mstatus.SPIE ? s | Mstatus.SIE : s & ~Mstatus.SIE;
  h.mstatus = (s | Mstatus.SPIE) & ~Mstatus.SPP & ~Mstatus.MPRV;
  h.pc = h.sepc;
  h.setPriv(to);
  return true;
}
