// The finisher holds no state, but it still has its (empty) section so that every device
// saves and restores the same way and a future field gets a version to grow from.
import { expectSection, type StateSection } from '../../state/section.js';

export const SYSCON_STATE_VERSION = 1;

export type SysconState = Record<string, never>;

export function parseSysconState(section: StateSection, name: string): SysconState {
  return expectSection<SysconState>(section, name, SYSCON_STATE_VERSION);
}
