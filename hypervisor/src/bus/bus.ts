// The physical address space: RAM plus a list of MMIO windows. The CPU reaches RAM directly
// through its TLB; only device accesses come through here.
import type { AccessWidth, MmioDevice } from './device.js';
import type { GuestRam } from './ram.js';

interface Window {
  base: number;
  end: number;
  device: MmioDevice;
}

export class Bus {
  private windows: Window[] = [];

  constructor(readonly ram: GuestRam) {}

  map(base: number, size: number, device: MmioDevice): void {
    const end = base + size;
    for (const w of this.windows) {
      if (base < w.end && w.base < end)
        throw new Error(`${device.name} overlaps ${w.device.name} at 0x${base.toString(16)}`);
    }
    if (base < this.ram.base + this.ram.size && this.ram.base < end) throw new Error(`${device.name} overlaps RAM`);
    this.windows.push({ base, end, device });
  }

  private find(paddr: number): Window | undefined {
    for (const w of this.windows) if (paddr >= w.base && paddr < w.end) return w;
    return undefined;
  }

  /** A load from a device register; undefined when nothing is mapped there (access fault). */
  readMmio(paddr: number, width: AccessWidth): number | undefined {
    const w = this.find(paddr >>> 0);
    if (!w) return undefined;
    const mask = width === 4 ? 0xffff_ffff : (1 << (width * 8)) - 1;
    return (w.device.read((paddr >>> 0) - w.base, width) & mask) >>> 0;
  }

  /**
   * A store to a device register; false when nothing is mapped there (access fault). The value is
   * cut to `width` bytes: the CPU passes a whole register for sb/sh, and a device must not see the
   * rest (a 16-bit syscon store would take the register's upper half as its exit code).
   */
  writeMmio(paddr: number, width: AccessWidth, value: number): boolean {
    const w = this.find(paddr >>> 0);
    if (!w) return false;
    const mask = width === 4 ? 0xffff_ffff : (1 << (width * 8)) - 1;
    w.device.write((paddr >>> 0) - w.base, width, (value & mask) >>> 0);
    return true;
  }
}
