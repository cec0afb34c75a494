// Numbers from the virtio 1.x specification: the virtio-mmio register file (version 2, the
// "modern" layout), device status bits, ring flags and the device-independent feature bits.

export const VIRTIO_MMIO_MAGIC = 0x7472_6976; // "virt", little-endian
export const VIRTIO_MMIO_VERSION = 2;
/** "QEMU", as QEMU's transports report, so guests that key on it behave the same. */
export const VIRTIO_MMIO_VENDOR = 0x554d_4551;

/** Register offsets in a virtio-mmio window. Everything below CONFIG is 32-bit only. */
export const MmioReg = {
  MAGIC_VALUE: 0x000,
  VERSION: 0x004,
  DEVICE_ID: 0x008,
  VENDOR_ID: 0x00c,
  DEVICE_FEATURES: 0x010,
  DEVICE_FEATURES_SEL: 0x014,
  DRIVER_FEATURES: 0x020,
  DRIVER_FEATURES_SEL: 0x024,
  QUEUE_SEL: 0x030,
  QUEUE_NUM_MAX: 0x034,
  QUEUE_NUM: 0x038,
  QUEUE_READY: 0x044,
  QUEUE_NOTIFY: 0x050,
  INTERRUPT_STATUS: 0x060,
  INTERRUPT_ACK: 0x064,
  STATUS: 0x070,
  QUEUE_DESC_LOW: 0x080,
  QUEUE_DESC_HIGH: 0x084,
  QUEUE_DRIVER_LOW: 0x090,
  QUEUE_DRIVER_HIGH: 0x094,
  QUEUE_DEVICE_LOW: 0x0a0,
  QUEUE_DEVICE_HIGH: 0x0a4,
  SHM_SEL: 0x0ac,
  SHM_LEN_LOW: 0x0b0,
  SHM_LEN_HIGH: 0x0b4,
  SHM_BASE_LOW: 0x0b8,
  SHM_BASE_HIGH: 0x0bc,
  CONFIG_GENERATION: 0x0fc,
  CONFIG: 0x100,
} as const;

/** InterruptStatus bits. */
export const VIRTIO_INT_VRING = 1;
export const VIRTIO_INT_CONFIG = 2;

/** Device status bits (the Status register). */
export const Status = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

/** Device-independent feature bit numbers. */
export const Feature = {
  INDIRECT_DESC: 28,
  EVENT_IDX: 29,
  VERSION_1: 32,
} as const;

/** 1n << bit, for building feature masks. */
export const bit = (n: number): bigint => 1n << BigInt(n);

/** Descriptor flags. */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags: the driver asks for no used-buffer notifications. */
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
/** used.flags: the device asks for no available-buffer notifications. */
export const VIRTQ_USED_F_NO_NOTIFY = 1;

export const DESC_SIZE = 16;

/** Device IDs (virtio spec, "Device Types"). */
export const DeviceId = {
  NONE: 0,
  NET: 1,
  BLOCK: 2,
  CONSOLE: 3,
  ENTROPY: 4,
  INPUT: 18,
} as const;
