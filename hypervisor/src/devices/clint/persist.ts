// The CLINT's snapshot section. It carries mtime itself: restoring re-bases the board clock
// on it, so guest time continues from the saved instant and never runs backwards.
import { expectSection, StateError, type StateSection } from '../../state/section.js';

export const CLINT_STATE_VERSION = 1;

export interface ClintState {
  msip: number;
  mtimecmpLo: number;
  mtimecmpHi: number;
  /** mtime at the moment of the save, in 10 MHz ticks. */
  mtime: number;
}

/** Checks a section for the CLINT called `name`; returns its state with every field in range. */
export function parseClintState(section: StateSection, name: string): ClintState {
  const d = expectSection<ClintState>(section, name, CLINT_STATE_VERSION);
  if (!Number.isSafeInteger(d.mtime) || d.mtime < 0) throw new StateError(`clint state: bad mtime ${d.mtime}`);
  return { msip: d.msip & 1, mtimecmpLo: d.mtimecmpLo >>> 0, mtimecmpHi: d.mtimecmpHi >>> 0, mtime: d.mtime };
}
