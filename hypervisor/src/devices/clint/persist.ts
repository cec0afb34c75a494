// The CLINT's snapshot section. It carries mtime itself: restoring re-bases the board clock
// on it, so guest time continues from the saved instant and never runs backwards.
import { expectSection, StateError, type StateSection } from '../../state/section.js';
import type { Clint } from './clint.js';

export const CLINT_STATE_VERSION = 1;

export interface ClintState {
  msip: number;
  mtimecmpLo: number;
  mtimecmpHi: number;
  /** mtime at the moment of the save, in 10 MHz ticks. */
  mtime: number;
}

export function saveClint(dev: Clint): StateSection<ClintState> {
  return {
    name: dev.name,
    version: CLINT_STATE_VERSION,
    data: { msip: dev.msip, mtimecmpLo: dev.mtimecmpLo, mtimecmpHi: dev.mtimecmpHi, mtime: dev.clock.now() },
  };
}

export function restoreClint(dev: Clint, section: StateSection): void {
  const d = expectSection<ClintState>(section, dev.name, CLINT_STATE_VERSION);
  if (!Number.isSafeInteger(d.mtime) || d.mtime < 0) throw new StateError(`clint state: bad mtime ${d.mtime}`);
  dev.clock.resumeAt(d.mtime);
  dev.msip = d.msip & 1;
  dev.mtimecmpLo = d.mtimecmpLo >>> 0;
  dev.mtimecmpHi = d.mtimecmpHi >>> 0;
  dev.resync();
}
