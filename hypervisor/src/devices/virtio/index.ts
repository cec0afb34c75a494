// virtio over MMIO for the `virt` board: the transport, the slots, and the devices.
export { DeviceId, Feature, MmioReg, Status, VIRTIO_INT_CONFIG, VIRTIO_INT_VRING } from './constants.js';
export { type VirtioDevice, type VirtioHost } from './device.js';
export { DescChain, type Segment } from './chain.js';
export { Virtqueue, VirtqueueError } from './queue.js';
export { VirtioMmio, TRANSPORT_FEATURES } from './mmio.js';
export { VIRTIO_MMIO_STATE_VERSION, type VirtioMmioState } from './persist.js';
export { createVirtioSlots, virtioSlotLayout, type VirtioSlot, type VirtioSlotInfo } from './slots.js';
export { VirtioBlk, type BlkStats } from './blk/blk.js';
export { VirtioNet, type VirtioNetOptions, type NetStats } from './net/net.js';
export { parseMac, formatMac, type NetBackend } from './net/backend.js';
export { L2Switch, L2Port } from './net/link.js';
export { VirtioRng } from './rng/rng.js';
export { VirtioConsole, type VirtioConsoleOptions } from './console/console.js';
export { VirtioInput, EV, SYN_REPORT, type InputEvent, type InputDeviceConfig, type AbsInfo } from './input/input.js';
export { keyboardConfig, keyPress, QCODE_KEYS, KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE } from './input/keyboard.js';
