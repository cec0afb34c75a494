// A virtio-mmio slot's snapshot section: the transport registers, each virtqueue's layout and
// ring progress, and the plugged device's own section (from the device's persist.ts).
//
// Requests never stay in flight across a notify, so ring indices are all a queue needs: a
// restored queue continues from lastAvailIdx/usedIdx in the restored RAM.
import type { GuestRam } from '../../bus/ram.js';
import { expectSection, isRecord, StateError, type StateSection } from '../../state/section.js';
import { ringOffsets, VirtqueueError, type Addr64 } from './queue.js';

export const VIRTIO_MMIO_STATE_VERSION = 1;

export interface VirtqueueState {
  size: number;
  ready: boolean;
  /** [low, high] halves of the guest-physical addresses. */
  desc: Addr64;
  driver: Addr64;
  device: Addr64;
  lastAvailIdx: number;
  usedIdx: number;
  signalledUsed: number;
  signalledValid: boolean;
  eventIdx: boolean;
  indirect: boolean;
}

export interface VirtioMmioState {
  deviceId: number;
  status: number;
  broken: boolean;
  lastError: string | null;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  queueSel: number;
  /** 64-bit feature mask as hex (JSON has no 64-bit integers). */
  driverFeatures: string;
  interruptStatus: number;
  configGeneration: number;
  queues: VirtqueueState[];
  device: StateSection | null;
}

/** A transport section checked and decoded, ready for the transport to take. */
export type VirtioMmioRestore = Omit<VirtioMmioState, 'driverFeatures'> & { driverFeatures: bigint };

/** The slot a section must fit: its name, the device plugged (0: none), its queues and its RAM. */
export interface VirtioSlotShape {
  name: string;
  deviceId: number;
  queueMaxSizes: readonly number[];
  ram: GuestRam;
}

/**
 * Checks a transport section against the slot, the rings of every ready queue against RAM
 * included (the plugged device checks its own section); returns it with fields in range.
 */
export function parseVirtioMmioState(section: StateSection, slot: VirtioSlotShape): VirtioMmioRestore {
  const d = expectSection<VirtioMmioState>(section, slot.name, VIRTIO_MMIO_STATE_VERSION);
  if (d.deviceId !== slot.deviceId) {
    throw new StateError(
      `${slot.name}: state is for virtio device ${d.deviceId}, the slot holds device ${slot.deviceId}`,
    );
  }
  const nq = slot.queueMaxSizes.length;
  if (!Array.isArray(d.queues) || d.queues.length !== nq) {
    throw new StateError(`${slot.name}: state has ${String(d.queues?.length)} queues, the device has ${nq}`);
  }
  if (typeof d.driverFeatures !== 'string' || !/^[0-9a-f]{1,16}$/.test(d.driverFeatures)) {
    throw new StateError(`${slot.name}: bad driver features '${String(d.driverFeatures)}'`);
  }
  if (slot.deviceId !== 0 && !d.device) throw new StateError(`${slot.name}: no device state`);
  return {
    deviceId: d.deviceId,
    status: u32(d.status) & 0xff,
    broken: d.broken === true,
    lastError: typeof d.lastError === 'string' ? d.lastError : null,
    deviceFeaturesSel: u32(d.deviceFeaturesSel),
    driverFeaturesSel: u32(d.driverFeaturesSel),
    queueSel: u32(d.queueSel),
    driverFeatures: BigInt(`0x${d.driverFeatures}`),
    interruptStatus: u32(d.interruptStatus) & 3,
    configGeneration: u32(d.configGeneration),
    queues: d.queues.map((q, i) => parseQueue(q, slot.ram, slot.queueMaxSizes[i]!, `${slot.name} queue ${i}`)),
    device: d.device,
  };
}

function parseQueue(s: VirtqueueState, ram: GuestRam, maxSize: number, what: string): VirtqueueState {
  if (!isRecord(s) || !isPair(s.desc) || !isPair(s.driver) || !isPair(s.device))
    throw new StateError(`${what}: bad ring addresses`);
  const q: VirtqueueState = {
    size: u32(s.size),
    ready: s.ready === true,
    desc: [s.desc[0], s.desc[1]],
    driver: [s.driver[0], s.driver[1]],
    device: [s.device[0], s.device[1]],
    lastAvailIdx: u32(s.lastAvailIdx) & 0xffff,
    usedIdx: u32(s.usedIdx) & 0xffff,
    signalledUsed: u32(s.signalledUsed) & 0xffff,
    signalledValid: s.signalledValid === true,
    eventIdx: s.eventIdx === true,
    indirect: s.indirect === true,
  };
  if (q.ready) {
    try {
      ringOffsets(ram, maxSize, q.size, q);
    } catch (e) {
      // The rings were checked when the guest enabled the queue: this RAM is not the saved one.
      throw new StateError(`${what}: ${e instanceof VirtqueueError ? e.message : String(e)}`);
    }
  }
  return q;
}

const u32 = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x >>> 0 : 0);
const isPair = (x: unknown): x is Addr64 =>
  Array.isArray(x) &&
  x.length === 2 &&
  x.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff);
