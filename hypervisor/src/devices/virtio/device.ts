// The contract between the virtio-mmio transport and a virtio device (blk, net, rng, console, input).
// The transport owns registers, feature negotiation, virtqueues and interrupts; a device only
// says what it is, serves its configuration space and handles chains on its queues.
import type { AccessWidth } from '../../bus/device.js';
import type { GuestRam } from '../../bus/ram.js';
import type { Persistent } from '../../state/section.js';
import type { Virtqueue } from './queue.js';

/** What the transport offers a device it is plugged into. */
export interface VirtioHost {
  readonly ram: GuestRam;
  /** Whether the driver accepted feature `bit`. */
  hasFeature(bit: number): boolean;
  /** The driver has set DRIVER_OK and the device is not waiting for a reset after a guest error. */
  driverOk(): boolean;
  /**
   * Work that starts on the host side (a frame arrived, console input): processes queue `index`
   * as a notify would, with the same error handling and interrupts. Safe to call at any time,
   * also from inside the device's own processing (it then runs right after).
   */
  kick(index: number): void;
  /** The configuration space changed: ConfigGeneration moves on and a config interrupt is raised. */
  configChanged(): void;
}

/**
 * A device plugged into a transport. Its state section (persist.ts beside it) travels inside
 * the transport's; restoreState replaces all of the device's state (no reset comes first) and
 * changes nothing when it throws, since the transport restores the device before itself.
 */
export interface VirtioDevice extends Persistent {
  /** virtio device ID (DeviceId.*). */
  readonly deviceId: number;
  /** Name of the device's state section, e.g. 'virtio-blk'. */
  readonly kind: string;
  /** Device-specific feature bits; the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX. */
  readonly features: bigint;
  /** Maximum size of each virtqueue; the length is the number of queues. */
  readonly queueSizes: readonly number[];
  readConfig(offset: number, width: AccessWidth): number;
  writeConfig(offset: number, width: AccessWidth, value: number): void;
  /** Called once, when the device is plugged into a transport. */
  attach(host: VirtioHost): void;
  /**
   * Handles what is available on a queue. Runs synchronously: every chain popped is pushed
   * back before returning. May throw VirtqueueError (the transport marks the device broken).
   */
  processQueue(index: number, queue: Virtqueue): void;
  /** Device reset (the driver wrote 0 to Status): back to power-on state. */
  reset(): void;
}

/** Reads a little-endian value of `width` bytes from a configuration space; bytes past its end read 0. */
export function readLe(bytes: Uint8Array, offset: number, width: AccessWidth): number {
  let v = 0;
  for (let i = width - 1; i >= 0; i--) v = (v << 8) | (bytes[offset + i] ?? 0);
  return v >>> 0;
}
