// A virtio-mmio slot's snapshot section: the transport registers, each virtqueue's layout and
// ring progress, and the plugged device's own section (from the device's persist.ts).
//
// Requests never stay in flight across a notify, so ring indices are all a queue needs: a
// restored queue continues from lastAvailIdx/usedIdx in the restored RAM.
import { expectSection, StateError, type StateSection } from '../../state/section.js';
import type { VirtioMmio } from './mmio.js';
import { VirtqueueError, type Virtqueue } from './queue.js';

export const VIRTIO_MMIO_STATE_VERSION = 1;

export interface VirtqueueState {
  size: number;
  ready: boolean;
  /** [low, high] halves of the guest-physical addresses. */
  desc: [number, number];
  driver: [number, number];
  device: [number, number];
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

export function saveVirtio(slot: VirtioMmio): StateSection<VirtioMmioState> {
  return {
    name: slot.name,
    version: VIRTIO_MMIO_STATE_VERSION,
    data: {
      deviceId: slot.device?.deviceId ?? 0,
      status: slot.status,
      broken: slot.broken,
      lastError: slot.lastError ?? null,
      deviceFeaturesSel: slot.deviceFeaturesSel,
      driverFeaturesSel: slot.driverFeaturesSel,
      queueSel: slot.queueSel,
      driverFeatures: slot.driverFeatures.toString(16),
      interruptStatus: slot.interruptStatus,
      configGeneration: slot.configGeneration,
      queues: slot.queues.map(saveQueue),
      device: slot.device?.saveState() ?? null,
    },
  };
}

export function restoreVirtio(slot: VirtioMmio, section: StateSection): void {
  const d = expectSection<VirtioMmioState>(section, slot.name, VIRTIO_MMIO_STATE_VERSION);
  const deviceId = slot.device?.deviceId ?? 0;
  if (d.deviceId !== deviceId) {
    throw new StateError(`${slot.name}: state is for virtio device ${d.deviceId}, the slot holds device ${deviceId}`);
  }
  if (!Array.isArray(d.queues) || d.queues.length !== slot.queues.length) {
    throw new StateError(
      `${slot.name}: state has ${String(d.queues?.length)} queues, the device has ${slot.queues.length}`,
    );
  }
  if (typeof d.driverFeatures !== 'string' || !/^[0-9a-f]{1,16}$/.test(d.driverFeatures)) {
    throw new StateError(`${slot.name}: bad driver features '${String(d.driverFeatures)}'`);
  }
  slot.reset();
  slot.status = u32(d.status) & 0xff;
  slot.broken = d.broken === true;
  slot.lastError = typeof d.lastError === 'string' ? d.lastError : undefined;
  slot.deviceFeaturesSel = u32(d.deviceFeaturesSel);
  slot.driverFeaturesSel = u32(d.driverFeaturesSel);
  slot.queueSel = u32(d.queueSel);
  slot.driverFeatures = BigInt(`0x${d.driverFeatures}`);
  slot.interruptStatus = u32(d.interruptStatus) & 3;
  slot.configGeneration = u32(d.configGeneration);
  d.queues.forEach((qs, i) => restoreQueue(slot.queues[i]!, qs, `${slot.name} queue ${i}`));
  if (slot.device) {
    if (!d.device) throw new StateError(`${slot.name}: no device state`);
    slot.device.restoreState(d.device);
  }
  slot.updateIrq(true);
}

function saveQueue(q: Virtqueue): VirtqueueState {
  return {
    size: q.size,
    ready: q.ready,
    desc: [q.desc, q.descHi],
    driver: [q.driver, q.driverHi],
    device: [q.device, q.deviceHi],
    lastAvailIdx: q.lastAvailIdx,
    usedIdx: q.usedIdx,
    signalledUsed: q.signalledUsed,
    signalledValid: q.signalledValid,
    eventIdx: q.eventIdx,
    indirect: q.indirect,
  };
}

function restoreQueue(q: Virtqueue, s: VirtqueueState, what: string): void {
  if (!isPair(s.desc) || !isPair(s.driver) || !isPair(s.device)) throw new StateError(`${what}: bad ring addresses`);
  q.size = u32(s.size);
  [q.desc, q.descHi] = s.desc;
  [q.driver, q.driverHi] = s.driver;
  [q.device, q.deviceHi] = s.device;
  if (!s.ready) return;
  try {
    q.enable(s.eventIdx === true, s.indirect === true);
  } catch (e) {
    // The rings were checked when the guest enabled the queue: this RAM is not the saved one.
    throw new StateError(`${what}: ${e instanceof VirtqueueError ? e.message : String(e)}`);
  }
  q.lastAvailIdx = u32(s.lastAvailIdx) & 0xffff;
  q.usedIdx = u32(s.usedIdx) & 0xffff;
  q.signalledUsed = u32(s.signalledUsed) & 0xffff;
  q.signalledValid = s.signalledValid === true;
}

const u32 = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x >>> 0 : 0);
const isPair = (x: unknown): x is [number, number] =>
  Array.isArray(x) &&
  x.length === 2 &&
  x.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff);
