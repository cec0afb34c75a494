// The board's physical memory map: the same addresses as QEMU's `virt` machine, so one guest
// image runs on both.
export const MemoryMap = {
  syscon: { base: 0x0010_0000, size: 0x1000 },
  clint: { base: 0x0200_0000, size: 0x1_0000 },
  plic: { base: 0x0c00_0000, size: 0x60_0000 },
  uart0: { base: 0x1000_0000, size: 0x100 },
  virtio: { base: 0x1000_1000, size: 0x1000, count: 8 },
  ram: { base: 0x8000_0000 },
} as const;

/** PLIC interrupt sources, as on QEMU `virt`. */
export const Irq = {
  uart0: 10,
  /** virtio-mmio slot i raises irq virtioBase + i. */
  virtioBase: 1,
} as const;

/** Where QEMU `virt` puts the kernel when an M-mode firmware is loaded at the start of RAM. */
export const KERNEL_OFFSET_WITH_FIRMWARE = 0x40_0000;

/** mtime frequency: 10 MHz, as on QEMU `virt`. */
export const TIMEBASE_HZ = 10_000_000;
