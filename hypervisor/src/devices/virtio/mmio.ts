// The virtio-mmio transport, modern layout (Version 2), one per slot of the `virt` board.
//
// Notifications are handled synchronously: a QueueNotify write runs the device over the queue
// and every request is complete (used ring written, interrupt raised) before the write
// returns. The VMM is single-threaded, so there are never requests in flight.
//
// The guest cannot make this code throw: malformed rings or chains (VirtqueueError), and any
// other failure inside a device, mark the device broken as the spec's DEVICE_NEEDS_RESET says,
// with a configuration-change interrupt, and the device then ignores the guest until reset.
import type { AccessWidth, IrqLine, MmioDevice } from '../../bus/device.js';
import type { GuestRam } from '../../bus/ram.js';
import type { Persistent, StateSection } from '../../state/section.js';
import {
  bit,
  Feature,
  MmioReg,
  Status,
  VIRTIO_INT_CONFIG,
  VIRTIO_INT_VRING,
  VIRTIO_MMIO_MAGIC,
  VIRTIO_MMIO_VENDOR,
  VIRTIO_MMIO_VERSION,
} from './constants.js';
import type { VirtioDevice, VirtioHost } from './device.js';
import { parseVirtioMmioState, VIRTIO_MMIO_STATE_VERSION, type VirtioMmioState } from './persist.js';
import { Virtqueue, VirtqueueError, type Ring } from './queue.js';

/** Feature bits every device gets from the transport and its split virtqueues. */
export const TRANSPORT_FEATURES = bit(Feature.VERSION_1) | bit(Feature.INDIRECT_DESC) | bit(Feature.EVENT_IDX);

const LOW32 = 0xffff_ffffn;

/** The queue address registers: which ring, which half. */
const RING_REGS = new Map<number, [Ring, 0 | 1]>([
  [MmioReg.QUEUE_DESC_LOW, ['desc', 0]],
  [MmioReg.QUEUE_DESC_HIGH, ['desc', 1]],
  [MmioReg.QUEUE_DRIVER_LOW, ['driver', 0]],
  [MmioReg.QUEUE_DRIVER_HIGH, ['driver', 1]],
  [MmioReg.QUEUE_DEVICE_LOW, ['device', 0]],
  [MmioReg.QUEUE_DEVICE_HIGH, ['device', 1]],
]);

export class VirtioMmio implements MmioDevice, Persistent {
  readonly queues: readonly Virtqueue[];

  // Transport registers.
  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private queueSel = 0;
  private driverFeatures = 0n;
  private interruptStatus = 0;
  private configGeneration = 0;
  #broken = false;
  #lastError: string | undefined;
  /** Called when the device breaks, with the reason. */
  onError: ((reason: string) => void) | undefined;

  private irqLevel = false;
  private busy = false;
  private readonly deferred: number[] = [];

  constructor(
    readonly ram: GuestRam,
    private readonly irq: IrqLine,
    readonly device?: VirtioDevice,
    readonly name = 'virtio-mmio',
  ) {
    this.queues = (device?.queueSizes ?? []).map((max) => new Virtqueue(ram, max));
    const host: VirtioHost = {
      ram,
      hasFeature: (b) => this.hasFeature(b),
      driverOk: () => (this.status & Status.DRIVER_OK) !== 0 && !this.#broken,
      kick: (i) => this.kick(i),
      configChanged: () => this.configChanged(),
    };
    device?.attach(host);
  }

  /** The device hit a guest error and waits for a reset (Status has DEVICE_NEEDS_RESET). */
  get broken(): boolean {
    return this.#broken;
  }

  /** Why the device broke, for the VMM's log. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  get deviceFeatures(): bigint {
    return this.device ? this.device.features | TRANSPORT_FEATURES : 0n;
  }

  hasFeature(b: number): boolean {
    return ((this.driverFeatures >> BigInt(b)) & 1n) === 1n;
  }

  private get queue(): Virtqueue | undefined {
    return this.queues[this.queueSel];
  }

  read(offset: number, width: AccessWidth): number {
    if (offset >= MmioReg.CONFIG) return this.device ? this.device.readConfig(offset - MmioReg.CONFIG, width) : 0;
    if (width !== 4 || offset & 3) return 0; // the register file is 32-bit only
    switch (offset) {
      case MmioReg.MAGIC_VALUE:
        return VIRTIO_MMIO_MAGIC;
      case MmioReg.VERSION:
        return VIRTIO_MMIO_VERSION;
      case MmioReg.DEVICE_ID:
        return this.device?.deviceId ?? 0; // 0: an empty slot, which drivers skip
      case MmioReg.VENDOR_ID:
        return VIRTIO_MMIO_VENDOR;
    }
    if (!this.device) return 0;
    const q = this.queue;
    const ring = RING_REGS.get(offset);
    if (ring) return q?.ringAddress(...ring) ?? 0;
    switch (offset) {
      case MmioReg.DEVICE_FEATURES:
        return half(this.deviceFeatures, this.deviceFeaturesSel);
      case MmioReg.DRIVER_FEATURES:
        return half(this.driverFeatures, this.driverFeaturesSel);
      case MmioReg.QUEUE_NUM_MAX:
        return q?.maxSize ?? 0; // 0 tells the driver the queue does not exist
      case MmioReg.QUEUE_NUM:
        return q?.size ?? 0;
      case MmioReg.QUEUE_READY:
        return q?.ready ? 1 : 0;
      case MmioReg.INTERRUPT_STATUS:
        return this.interruptStatus;
      case MmioReg.STATUS:
        return this.status;
      case MmioReg.SHM_LEN_LOW:
      case MmioReg.SHM_LEN_HIGH:
      case MmioReg.SHM_BASE_LOW:
      case MmioReg.SHM_BASE_HIGH:
        return 0xffff_ffff; // no shared memory regions: length reads as -1
      case MmioReg.CONFIG_GENERATION:
        return this.configGeneration;
      default:
        return 0;
    }
  }

  write(offset: number, width: AccessWidth, value: number): void {
    if (!this.device) return;
    if (offset >= MmioReg.CONFIG) {
      this.device.writeConfig(offset - MmioReg.CONFIG, width, value);
      return;
    }
    if (width !== 4 || offset & 3) return;
    value >>>= 0;
    const q = this.queue;
    const ring = RING_REGS.get(offset);
    if (ring) {
      q?.setRingAddress(...ring, value);
      return;
    }
    switch (offset) {
      case MmioReg.DEVICE_FEATURES_SEL:
        this.deviceFeaturesSel = value;
        break;
      case MmioReg.DRIVER_FEATURES_SEL:
        this.driverFeaturesSel = value;
        break;
      case MmioReg.DRIVER_FEATURES:
        if (this.status & Status.FEATURES_OK || this.driverFeaturesSel > 1) break;
        this.driverFeatures =
          this.driverFeaturesSel === 0
            ? (this.driverFeatures & (LOW32 << 32n)) | BigInt(value)
            : (this.driverFeatures & LOW32) | (BigInt(value) << 32n);
        break;
      case MmioReg.QUEUE_SEL:
        this.queueSel = value;
        break;
      case MmioReg.QUEUE_NUM:
        q?.setSize(value);
        break;
      case MmioReg.QUEUE_READY:
        if (q) this.setQueueReady(q, (value & 1) === 1);
        break;
      case MmioReg.QUEUE_NOTIFY:
        this.kick(value & 0xffff);
        break;
      case MmioReg.INTERRUPT_ACK:
        this.interruptStatus &= ~value;
        this.updateIrq();
        break;
      case MmioReg.STATUS:
        this.setStatus(value & 0xff);
        break;
    }
  }

  private setQueueReady(q: Virtqueue, ready: boolean): void {
    if (!ready) {
      q.disable();
      return;
    }
    if (q.ready) return;
    try {
      q.enable(this.hasFeature(Feature.EVENT_IDX), this.hasFeature(Feature.INDIRECT_DESC));
    } catch (e) {
      this.fail(e);
    }
  }

  private setStatus(value: number): void {
    if (value === 0) {
      this.reset();
      return;
    }
    // FEATURES_OK sticks only if the driver took a subset of what is offered, VERSION_1 included;
    // the driver reads Status back to learn the verdict.
    if (value & Status.FEATURES_OK && !(this.status & Status.FEATURES_OK) && !this.featuresAcceptable()) {
      value &= ~Status.FEATURES_OK;
    }
    this.status = (value & ~Status.DEVICE_NEEDS_RESET) | (this.#broken ? Status.DEVICE_NEEDS_RESET : 0);
  }

  private featuresAcceptable(): boolean {
    return (this.driverFeatures & ~this.deviceFeatures) === 0n && this.hasFeature(Feature.VERSION_1);
  }

  /** Device reset: the transport and the device return to their power-on state. */
  reset(): void {
    this.status = 0;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    this.driverFeatures = 0n;
    this.interruptStatus = 0;
    this.#broken = false;
    this.#lastError = undefined;
    this.deferred.length = 0;
    for (const q of this.queues) q.reset();
    this.device?.reset();
    this.updateIrq();
  }

  /**
   * Processes queue `index` (a QueueNotify, or host-side work through VirtioHost.kick). Work
   * asked for while the device is already processing, e.g. a frame looped back by a
   * synchronous network backend, runs right after the current work instead of inside it.
   */
  kick(index: number): void {
    const q = this.queues[index];
    if (!this.device || this.#broken || !q?.ready) return;
    if (this.busy) {
      if (!this.deferred.includes(index)) this.deferred.push(index);
      return;
    }
    this.busy = true;
    try {
      for (let next: number | undefined = index; next !== undefined && !this.#broken; next = this.deferred.shift()) {
        this.process(next);
      }
    } finally {
      this.busy = false;
      this.deferred.length = 0;
    }
  }

  private process(index: number): void {
    const q = this.queues[index]!;
    if (!q.ready) return;
    try {
      this.device!.processQueue(index, q);
      q.publishAvailEvent();
      let notify = false;
      for (const other of this.queues) if (other.takeInterrupt()) notify = true;
      if (notify) this.raise(VIRTIO_INT_VRING);
    } catch (e) {
      this.fail(e);
    }
  }

  private configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    this.raise(VIRTIO_INT_CONFIG);
  }

  /** Marks the device broken (DEVICE_NEEDS_RESET) and tells the driver by a config interrupt. */
  private fail(e: unknown): void {
    const reason =
      e instanceof VirtqueueError ? e.message : `device error: ${e instanceof Error ? e.message : String(e)}`;
    this.#broken = true;
    this.#lastError = `${this.name}: ${reason}`;
    this.status |= Status.DEVICE_NEEDS_RESET;
    this.raise(VIRTIO_INT_CONFIG);
    this.onError?.(this.#lastError);
  }

  private raise(bits: number): void {
    this.interruptStatus |= bits;
    this.updateIrq();
  }

  saveState(): StateSection<VirtioMmioState> {
    return {
      name: this.name,
      version: VIRTIO_MMIO_STATE_VERSION,
      data: {
        deviceId: this.device?.deviceId ?? 0,
        status: this.status,
        broken: this.#broken,
        lastError: this.#lastError ?? null,
        deviceFeaturesSel: this.deviceFeaturesSel,
        driverFeaturesSel: this.driverFeaturesSel,
        queueSel: this.queueSel,
        driverFeatures: this.driverFeatures.toString(16),
        interruptStatus: this.interruptStatus,
        configGeneration: this.configGeneration,
        queues: this.queues.map((q) => q.save()),
        device: this.device?.saveState() ?? null,
      },
    };
  }

  /** Takes the transport's, the queues' and the device's state; StateError, changing nothing, if any is bad. */
  restoreState(section: StateSection): void {
    const s = parseVirtioMmioState(section, {
      name: this.name,
      deviceId: this.device?.deviceId ?? 0,
      queueMaxSizes: this.queues.map((q) => q.maxSize),
      ram: this.ram,
    });
    // The device checks its section before it changes anything; what follows cannot fail.
    if (this.device) this.device.restoreState(s.device!);
    this.status = s.status;
    this.#broken = s.broken;
    this.#lastError = s.lastError ?? undefined;
    this.deviceFeaturesSel = s.deviceFeaturesSel;
    this.driverFeaturesSel = s.driverFeaturesSel;
    this.queueSel = s.queueSel;
    this.driverFeatures = s.driverFeatures;
    this.interruptStatus = s.interruptStatus;
    this.configGeneration = s.configGeneration;
    this.deferred.length = 0;
    this.queues.forEach((q, i) => q.restore(s.queues[i]!));
    this.updateIrq(true);
  }

  /** Drives the interrupt line from InterruptStatus (force: even if unchanged, after restore). */
  private updateIrq(force = false): void {
    const level = this.interruptStatus !== 0;
    if (level === this.irqLevel && !force) return;
    this.irqLevel = level;
    this.irq.set(level);
  }
}

function half(v: bigint, sel: number): number {
  if (sel > 1) return 0;
  return Number((v >> BigInt(32 * sel)) & LOW32);
}
