// The virtio-mmio slots of the `virt` board: slot i at 0x1000_1000 + 0x1000 * i, PLIC irq 1 + i.
// Every slot gets a transport, so the device tree can list all of them; an empty slot answers
// DeviceID 0 and drivers skip it, as on QEMU.
import type { IrqLine } from '../../bus/device.js';
import type { GuestRam } from '../../bus/ram.js';
import { Irq, MemoryMap } from '../../memory-map.js';
import type { VirtioDevice } from './device.js';
import { VirtioMmio } from './mmio.js';

export interface VirtioSlotInfo {
  index: number;
  /** Guest-physical base of the register window. */
  base: number;
  size: number;
  /** PLIC source. */
  irq: number;
  /** Device-tree style name, also the snapshot section name: `virtio_mmio@10001000`. */
  name: string;
}

export interface VirtioSlot extends VirtioSlotInfo {
  mmio: VirtioMmio;
}

/** The slots' addresses and interrupts, 0..count-1. */
export function virtioSlotLayout(count: number = MemoryMap.virtio.count): VirtioSlotInfo[] {
  if (!Number.isInteger(count) || count < 0 || count > MemoryMap.virtio.count) {
    throw new RangeError(`virtio slot count ${count} is not in 0..${MemoryMap.virtio.count}`);
  }
  return Array.from({ length: count }, (_, index) => {
    const base = MemoryMap.virtio.base + index * MemoryMap.virtio.size;
    return {
      index,
      base,
      size: MemoryMap.virtio.size,
      irq: Irq.virtioBase + index,
      name: `virtio_mmio@${base.toString(16)}`,
    };
  });
}

/**
 * Builds one transport per slot; devices[i] (if any) goes into slot i. The caller maps each
 * slot's `mmio` on the bus at `base` and saves/restores it with its saveState/restoreState.
 */
export function createVirtioSlots(
  ram: GuestRam,
  irqLine: (irq: number) => IrqLine,
  devices: readonly (VirtioDevice | undefined)[],
  count: number = MemoryMap.virtio.count,
): VirtioSlot[] {
  if (devices.length > count) throw new RangeError(`${devices.length} virtio devices do not fit in ${count} slots`);
  return virtioSlotLayout(count).map((info) => ({
    ...info,
    mmio: new VirtioMmio(ram, irqLine(info.irq), devices[info.index], info.name),
  }));
}
