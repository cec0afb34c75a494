// The finisher holds no state, but it still has its (empty) section so that every device
// saves and restores the same way and a future field gets a version to grow from.
import { expectSection, type StateSection } from '../../state/section.js';
import type { Syscon } from './syscon.js';

export const SYSCON_STATE_VERSION = 1;

export type SysconState = Record<string, never>;

export function saveSyscon(dev: Syscon): StateSection<SysconState> {
  return { name: dev.name, version: SYSCON_STATE_VERSION, data: {} };
}

export function restoreSyscon(dev: Syscon, section: StateSection): void {
  expectSection<SysconState>(section, dev.name, SYSCON_STATE_VERSION);
}
