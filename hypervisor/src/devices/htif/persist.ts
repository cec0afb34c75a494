// HTIF's snapshot section. tohost and fromhost themselves live in guest RAM (saved with it);
// the section holds the answers not yet delivered and the poll latch, plus the two addresses
// so that a snapshot is not restored onto a different program's HTIF.
import { expectSection, StateError, type StateSection } from '../../state/section.js';

export const HTIF_STATE_VERSION = 1;

export interface HtifState {
  tohost: number;
  fromhost: number | null;
  /** 64-bit values as hex strings (JSON has no 64-bit integers). */
  fromhostQueue: string[];
  lastPolled: string;
}

export const hex64 = (v: bigint): string => `0x${v.toString(16)}`;

/** Checks a section against the HTIF's name and addresses; returns its values, decoded. */
export function parseHtifState(
  section: StateSection,
  htif: { name: string; tohost: number; fromhost: number | undefined },
): { fromhostQueue: bigint[]; lastPolled: bigint } {
  const d = expectSection<HtifState>(section, htif.name, HTIF_STATE_VERSION);
  if (d.tohost !== htif.tohost || d.fromhost !== (htif.fromhost ?? null)) {
    throw new StateError(
      `htif state is for tohost 0x${d.tohost.toString(16)}, this guest's is at 0x${htif.tohost.toString(16)}`,
    );
  }
  try {
    return { fromhostQueue: d.fromhostQueue.map((s) => BigInt(s)), lastPolled: BigInt(d.lastPolled) };
  } catch {
    throw new StateError('htif state: bad 64-bit value');
  }
}
