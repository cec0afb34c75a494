// Sv32 address translation (privileged spec 1.12, section 4.3): a two-level page walk with
// hardware-managed A/D bits and the U/SUM/MXR permission rules.
import { Access, Priv } from './exceptions.js';
import { Mstatus } from './csr.js';
import type { GuestRam } from '../bus/ram.js';

const PTE_V = 1,
  PTE_R = 2,
  PTE_W = 4,
  PTE_X = 8,
  PTE_U = 16,
  PTE_A = 64,
  PTE_D = 128;

/** Walk outcomes that are not a physical address. */
export const PAGE_FAULT = -1;
export const ACCESS_FAULT = -2;

/**
 * Sv32 makes 34-bit physical addresses but nothing on this board sits at or above 4 GiB: such an
 * address is an access fault, not (as `>>> 0` further down would make it) an alias of low memory.
 */
const PA_LIMIT = 2 ** 32;

/**
 * Translates `va` for `access` at privilege `priv` with the given satp and mstatus.
 * Returns the physical address (below 4 GiB, see PA_LIMIT) or PAGE_FAULT / ACCESS_FAULT.
 */
export function translate(
  ram: GuestRam,
  satp: number,
  mstatus: number,
  va: number,
  access: Access,
  priv: Priv,
): number {
  if (priv === Priv.Machine || satp >>> 31 === 0) return va >>> 0;
  let table = (satp & 0x3f_ffff) * 4096;
  let level = 1;
  let pte: number;
  let pteOffset: number;
  for (;;) {
    const vpn = (va >>> (12 + 10 * level)) & 0x3ff;
    const pteAddress = table + vpn * 4;
    pteOffset = pteAddress < PA_LIMIT ? ram.offsetOf(pteAddress, 4) : -1;
    if (pteOffset < 0) return ACCESS_FAULT;
    pte = ram.view.getInt32(pteOffset, true);
    if (!(pte & PTE_V) || (!(pte & PTE_R) && pte & PTE_W)) return PAGE_FAULT;
    if (pte & (PTE_R | PTE_X)) break;
    if (level === 0) return PAGE_FAULT;
    level = 0;
    table = (pte >>> 10) * 4096;
  }
  if (priv === Priv.User) {
    if (!(pte & PTE_U)) return PAGE_FAULT;
  } else if (pte & PTE_U) {
    if (access === Access.Execute || !(mstatus & Mstatus.SUM)) return PAGE_FAULT;
  }
  switch (access) {
    case Access.Read:
      if (!(pte & PTE_R) && !(mstatus & Mstatus.MXR && pte & PTE_X)) return PAGE_FAULT;
      break;
    case Access.Write:
      if (!(pte & PTE_W)) return PAGE_FAULT;
      break;
    case Access.Execute:
      if (!(pte & PTE_X)) return PAGE_FAULT;
      break;
  }
  // A 4 MiB superpage must be aligned: its low PPN must be zero.
  if (level === 1 && (pte >>> 10) & 0x3ff) return PAGE_FAULT;
  const pa = level === 1 ? (pte >>> 20) * 0x40_0000 + (va & 0x3f_ffff) : (pte >>> 10) * 4096 + (va & 0xfff);
  if (pa >= PA_LIMIT) return ACCESS_FAULT;
  const needed = PTE_A | (access === Access.Write ? PTE_D : 0);
  if ((pte & needed) !== needed) {
    ram.view.setInt32(pteOffset, pte | needed, true);
    ram.noteWrite(pteOffset);
  }
  return pa;
}
