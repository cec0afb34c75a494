// What a VM is made of: the machine configuration a snapshot records and a restore must match.

export type BiosChoice = 'builtin' | 'none' | Uint8Array;

export interface MachineConfig {
  /** Guest RAM in MiB. */
  memoryMiB: number;
  /** mtime source: the host's monotonic clock, or retired instructions (deterministic runs). */
  clock: 'host' | 'virtual';
  /** virtio-mmio slots listed in the device tree (0..8). */
  virtioSlots: number;
}

export interface BootImages {
  /** ELF, Linux `Image`, or a flat binary. */
  kernel: Uint8Array;
  initrd?: Uint8Array;
  append?: string;
  /** builtin: the VMM serves SBI and enters the kernel in S-mode; none: run the kernel in M-mode from reset; bytes: an M-mode firmware. */
  bios: BiosChoice;
  /** A device tree blob replacing the generated one. */
  dtb?: Uint8Array;
}

export const DEFAULT_CONFIG: MachineConfig = { memoryMiB: 128, clock: 'host', virtioSlots: 8 };

/** A machine configuration or boot image the board cannot take (common's ConfigError is for services' settings). */
export class MachineConfigError extends Error {
  override readonly name = 'MachineConfigError';
}

export function checkConfig(c: MachineConfig): void {
  if (!Number.isInteger(c.memoryMiB) || c.memoryMiB < 16 || c.memoryMiB > 2047) {
    throw new MachineConfigError(`memory must be a whole number of MiB between 16 and 2047, not ${c.memoryMiB}`);
  }
  if (!Number.isInteger(c.virtioSlots) || c.virtioSlots < 0 || c.virtioSlots > 8) {
    throw new MachineConfigError(`virtio slots must be 0..8, not ${c.virtioSlots}`);
  }
}
