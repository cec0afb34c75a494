// Saved state of the VMM's SBI: the armed S-mode timer.
import { expectSection, type StateSection } from '../../state/section.js';
import type { Sbi } from './sbi.js';

export const SBI_STATE_VERSION = 1;

interface SbiState {
  /** null when unarmed (JSON has no Infinity). */
  timerDeadline: number | null;
}

export function saveSbi(sbi: Sbi): StateSection<SbiState> {
  return {
    name: 'sbi',
    version: SBI_STATE_VERSION,
    data: { timerDeadline: Number.isFinite(sbi.timerDeadline) ? sbi.timerDeadline : null },
  };
}

export function restoreSbi(sbi: Sbi, s: StateSection): void {
  const d = expectSection<SbiState>(s, 'sbi', SBI_STATE_VERSION);
  sbi.timerDeadline = d.timerDeadline ?? Infinity;
}
