// HTIF's snapshot section. tohost and fromhost themselves live in guest RAM (saved with it);
// the section holds the answers not yet delivered and the poll latch, plus the two addresses
// so that a snapshot is not restored onto a different program's HTIF.
import { expectSection, StateError, type StateSection } from '../../state/section.js';
import type { Htif } from './htif.js';

export const HTIF_STATE_VERSION = 1;

export interface HtifState {
  tohost: number;
  fromhost: number | null;
  /** 64-bit values as hex strings (JSON has no 64-bit integers). */
  fromhostQueue: string[];
  lastPolled: string;
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

export function saveHtif(dev: Htif): StateSection<HtifState> {
  return {
    name: dev.name,
    version: HTIF_STATE_VERSION,
    data: {
      tohost: dev.tohost,
      fromhost: dev.fromhost ?? null,
      fromhostQueue: dev.fromhostQueue.map(hex),
      lastPolled: hex(dev.lastPolled),
    },
  };
}

export function restoreHtif(dev: Htif, section: StateSection): void {
  const d = expectSection<HtifState>(section, dev.name, HTIF_STATE_VERSION);
  if (d.tohost !== dev.tohost || d.fromhost !== (dev.fromhost ?? null)) {
    throw new StateError(
      `htif state is for tohost 0x${d.tohost.toString(16)}, this guest's is at 0x${dev.tohost.toString(16)}`,
    );
  }
  try {
    dev.fromhostQueue = d.fromhostQueue.map((s) => BigInt(s));
    dev.lastPolled = BigInt(d.lastPolled);
  } catch {
    throw new StateError('htif state: bad 64-bit value');
  }
}
