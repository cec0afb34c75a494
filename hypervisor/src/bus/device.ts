// What the bus needs from a memory-mapped device, and how devices raise interrupts.

export type AccessWidth = 1 | 2 | 4;

/** A device window on the physical bus. Offsets are relative to the window's base. */
export interface MmioDevice {
  readonly name: string;
  /** Returns the value zero-extended to 32 bits (as an unsigned number or int32; the bus masks it). */
  read(offset: number, width: AccessWidth): number;
  /** `value` holds just the `width` bytes stored, zero-extended (unsigned). */
  write(offset: number, width: AccessWidth, value: number): void;
}

/** One interrupt input of the PLIC, driven level-triggered by a device. */
export interface IrqLine {
  set(level: boolean): void;
}

/** Interrupt-pending bits of the hart (the mip CSR) that devices drive: MSIP, MTIP, SEIP, MEIP, STIP. */
export interface HartInterruptPins {
  setPending(mask: number, level: boolean): void;
}
