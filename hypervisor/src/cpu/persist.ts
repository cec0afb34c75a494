// Saved state of the hart: registers, pc, privilege, CSRs, counters and the LR reservation.
// Translation caches (TLB, translated blocks) are not state: they are rebuilt on demand.
import { expectSection, StateError, type StateSection } from '../state/section.js';
import type { Priv } from './exceptions.js';
import type { Hart } from './hart.js';

export const CPU_STATE_VERSION = 1;

const CSR_FIELDS = [
  'mstatus',
  'mtvec',
  'mepc',
  'mcause',
  'mtval',
  'mscratch',
  'medeleg',
  'mideleg',
  'mie',
  'mipHw',
  'mipSoft',
  'stvec',
  'sepc',
  'scause',
  'stval',
  'sscratch',
  'satp',
  'mcounteren',
  'scounteren',
  'menvcfg',
  'senvcfg',
] as const;
type CsrField = (typeof CSR_FIELDS)[number];

export interface CpuState {
  x: number[];
  pc: number;
  priv: Priv;
  csr: Record<CsrField, number>;
  pmpcfg: number[];
  pmpaddr: number[];
  instret: number;
  retiredOffset: number;
  reservation: number;
  wfi: boolean;
}

export function saveCpu(h: Hart): StateSection<CpuState> {
  const csr = {} as Record<CsrField, number>;
  for (const f of CSR_FIELDS) csr[f] = h[f];
  return {
    name: 'cpu',
    version: CPU_STATE_VERSION,
    data: {
      x: Array.from(h.x),
      pc: h.pc,
      priv: h.priv,
      csr,
      pmpcfg: Array.from(h.pmpcfg),
      pmpaddr: Array.from(h.pmpaddr),
      instret: h.instret,
      retiredOffset: h.retiredOffset,
      reservation: h.reservation,
      wfi: h.wfi,
    },
  };
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

export function restoreCpu(h: Hart, s: StateSection): void {
  const d = expectSection<CpuState>(s, 'cpu', CPU_STATE_VERSION);
  const ok =
    Array.isArray(d.x) &&
    d.x.length === 32 &&
    d.x.every(isInt) &&
    isInt(d.pc) &&
    [0, 1, 3].includes(d.priv) &&
    CSR_FIELDS.every((f) => isInt(d.csr?.[f])) &&
    Array.isArray(d.pmpcfg) &&
    d.pmpcfg.length === 4 &&
    Array.isArray(d.pmpaddr) &&
    d.pmpaddr.length === 16 &&
    isInt(d.instret) &&
    isInt(d.retiredOffset) &&
    isInt(d.reservation);
  if (!ok) throw new StateError('cpu state is malformed');
  h.x.set(d.x);
  h.x[0] = 0;
  h.pc = d.pc | 0;
  for (const f of CSR_FIELDS) h[f] = d.csr[f] | 0;
  h.pmpcfg.set(d.pmpcfg);
  h.pmpaddr.set(d.pmpaddr);
  h.instret = d.instret;
  h.retiredOffset = d.retiredOffset;
  h.reservation = d.reservation;
  h.wfi = d.wfi === true;
  h.updateMip();
  h.setPriv(d.priv);
  h.translationChanged(true);
  h.dropTranslations();
}
