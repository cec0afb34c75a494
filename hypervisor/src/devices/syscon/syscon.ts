// The SiFive test finisher ("sifive,test0", QEMU's sifive_test) behind the syscon-poweroff
// and syscon-reboot nodes of the device tree: a write at offset 0 powers off or resets.
import type { AccessWidth, MmioDevice } from '../../bus/device.js';
import type { Persistent, StateSection } from '../../state/section.js';
import { parseSysconState, SYSCON_STATE_VERSION, type SysconState } from './persist.js';

export const FINISHER_FAIL = 0x3333;
export const FINISHER_PASS = 0x5555;
export const FINISHER_RESET = 0x7777;

export interface PowerEvent {
  kind: 'poweroff' | 'reset';
  /** Exit status: 0 for PASS, the upper 16 bits of the written value for FAIL. */
  code: number;
}

export class Syscon implements MmioDevice, Persistent {
  readonly name = 'syscon';

  constructor(private readonly onPower: (event: PowerEvent) => void) {}

  read(_offset: number, _width: AccessWidth): number {
    return 0;
  }

  write(offset: number, width: AccessWidth, value: number): void {
    // QEMU accepts 16- and 32-bit stores; the command is the low half, a FAIL code the high half.
    if (offset !== 0 || width === 1) return;
    const status = value & 0xffff;
    const code = (value >>> 16) & 0xffff;
    if (status === FINISHER_PASS) this.onPower({ kind: 'poweroff', code: 0 });
    else if (status === FINISHER_FAIL) this.onPower({ kind: 'poweroff', code });
    else if (status === FINISHER_RESET) this.onPower({ kind: 'reset', code: 0 });
  }

  saveState(): StateSection<SysconState> {
    return { name: this.name, version: SYSCON_STATE_VERSION, data: {} };
  }

  restoreState(section: StateSection): void {
    parseSysconState(section, this.name);
  }
}
