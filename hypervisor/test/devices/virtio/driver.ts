// A fake guest driver for virtio-mmio devices, written to do what Linux's virtio_mmio.c and
// virtio_ring.c (split rings) do, register access for register access: probe, reset,
// feature negotiation with FEATURES_OK read back, queue setup with QueueReady, descriptor
// chains from a free list (indirect tables when negotiated and more than one buffer),
// kick_prepare with avail_event / NO_NOTIFY, get_buf with used_event, and the interrupt
// handler that reads InterruptStatus and acknowledges it.
import type { GuestRam } from '../../../src/bus/ram.js';
import { bit, Feature, MmioReg, Status, VIRTIO_INT_VRING } from '../../../src/devices/virtio/constants.js';
import type { VirtioMmio } from '../../../src/devices/virtio/mmio.js';
import { needEvent } from '../../../src/devices/virtio/queue.js';

export const DESC_F_NEXT = 1;
export const DESC_F_WRITE = 2;
export const DESC_F_INDIRECT = 4;
export const AVAIL_F_NO_INTERRUPT = 1;

/** A bump allocator over guest RAM, standing in for the guest's DMA allocations. */
export class GuestMem {
  private next: number;

  constructor(
    public ram: GuestRam,
    start = ram.base,
  ) {
    this.next = start;
  }

  /** Continues in another RAM holding the same bytes (a restored VM). */
  moveTo(ram: GuestRam): void {
    this.ram = ram;
  }

  alloc(len: number, align = 16): number {
    const addr = Math.ceil(this.next / align) * align;
    if (addr + len > this.ram.base + this.ram.size) throw new Error('test guest RAM exhausted');
    this.next = addr + len;
    return addr;
  }

  /** Allocates a buffer holding `bytes`. */
  put(bytes: Uint8Array, align = 16): number {
    const addr = this.alloc(bytes.length, align);
    this.write(addr, bytes);
    return addr;
  }

  off(addr: number): number {
    return addr - this.ram.base;
  }

  write(addr: number, bytes: Uint8Array): void {
    this.ram.bytes.set(bytes, this.off(addr));
  }

  read(addr: number, len: number): Uint8Array {
    return this.ram.bytes.slice(this.off(addr), this.off(addr) + len);
  }

  u16(addr: number): number {
    return this.ram.view.getUint16(this.off(addr), true);
  }

  u32(addr: number): number {
    return this.ram.view.getUint32(this.off(addr), true);
  }

  setU16(addr: number, v: number): void {
    this.ram.view.setUint16(this.off(addr), v, true);
  }

  setU32(addr: number, v: number): void {
    this.ram.view.setUint32(this.off(addr), v, true);
  }

  /** Writes a raw descriptor (for tests that build bad ones by hand). */
  setDesc(table: number, i: number, addr: number, len: number, flags: number, next: number, addrHi = 0): void {
    const d = table + 16 * i;
    this.setU32(d, addr);
    this.setU32(d + 4, addrHi);
    this.setU32(d + 8, len);
    this.setU16(d + 12, flags);
    this.setU16(d + 14, next);
  }
}

export interface Buf {
  addr: number;
  len: number;
}

/** Features a Linux driver knows besides the device-specific ones. */
export const LINUX_TRANSPORT_FEATURES = bit(Feature.VERSION_1) | bit(Feature.INDIRECT_DESC) | bit(Feature.EVENT_IDX);

export class FakeDriver {
  readonly queues: VirtqDriver[] = [];
  features = 0n;
  /** InterruptStatus values the interrupt handler saw. */
  interrupts: number[] = [];

  constructor(
    public dev: VirtioMmio,
    readonly mem: GuestMem,
  ) {}

  /** The guest continues on a restored VM: another transport over a copy of its RAM. */
  moveTo(dev: VirtioMmio, ram: GuestRam): void {
    this.dev = dev;
    this.mem.moveTo(ram);
  }

  r(off: number): number {
    return this.dev.read(off, 4) >>> 0;
  }

  w(off: number, v: number): void {
    this.dev.write(off, 4, v >>> 0);
  }

  get status(): number {
    return this.r(MmioReg.STATUS);
  }

  /** virtio_mmio_probe: magic, version, device ID (0: no device). */
  probe(): number {
    if (this.r(MmioReg.MAGIC_VALUE) !== 0x74726976) throw new Error('wrong magic value');
    const version = this.r(MmioReg.VERSION);
    if (version !== 2) throw new Error(`version ${version} not supported`);
    return this.r(MmioReg.DEVICE_ID);
  }

  /** vm_get_features: high word first, as Linux reads it. */
  deviceFeatures(): bigint {
    this.w(MmioReg.DEVICE_FEATURES_SEL, 1);
    const hi = BigInt(this.r(MmioReg.DEVICE_FEATURES));
    this.w(MmioReg.DEVICE_FEATURES_SEL, 0);
    return (hi << 32n) | BigInt(this.r(MmioReg.DEVICE_FEATURES));
  }

  /**
   * virtio_dev_probe up to FEATURES_OK: reset, ACKNOWLEDGE, DRIVER, take the features both
   * sides know (`driverKnows` device-specific bits, plus the transport ones unless `drop`ped),
   * write them, set FEATURES_OK and read it back. Returns the negotiated set.
   */
  init(driverKnows: bigint, opts: { drop?: bigint; force?: bigint } = {}): bigint {
    if (this.probe() === 0) throw new Error('no device');
    this.w(MmioReg.STATUS, 0);
    this.w(MmioReg.STATUS, Status.ACKNOWLEDGE);
    this.w(MmioReg.STATUS, Status.ACKNOWLEDGE | Status.DRIVER);
    const offered = this.deviceFeatures();
    const want = (offered & (driverKnows | LINUX_TRANSPORT_FEATURES) & ~(opts.drop ?? 0n)) | (opts.force ?? 0n);
    this.w(MmioReg.DRIVER_FEATURES_SEL, 1);
    this.w(MmioReg.DRIVER_FEATURES, Number(want >> 32n));
    this.w(MmioReg.DRIVER_FEATURES_SEL, 0);
    this.w(MmioReg.DRIVER_FEATURES, Number(want & 0xffff_ffffn));
    this.w(MmioReg.STATUS, this.status | Status.FEATURES_OK);
    if (!(this.status & Status.FEATURES_OK)) throw new Error('virtio: device refuses features');
    this.features = want;
    return want;
  }

  has(b: number): boolean {
    return ((this.features >> BigInt(b)) & 1n) === 1n;
  }

  /** vm_setup_vq: checks the queue is free and exists, sizes it, lays it out and enables it. */
  setupQueue(index: number, size?: number): VirtqDriver {
    this.w(MmioReg.QUEUE_SEL, index);
    if (this.r(MmioReg.QUEUE_READY) !== 0) throw new Error(`queue ${index} already set up`);
    const max = this.r(MmioReg.QUEUE_NUM_MAX);
    if (max === 0) throw new Error(`queue ${index} does not exist`);
    const num = size ?? max;
    const vq = new VirtqDriver(this, index, num, this.has(Feature.EVENT_IDX), this.has(Feature.INDIRECT_DESC));
    this.w(MmioReg.QUEUE_NUM, num);
    this.w(MmioReg.QUEUE_DESC_LOW, vq.desc);
    this.w(MmioReg.QUEUE_DESC_HIGH, 0);
    this.w(MmioReg.QUEUE_DRIVER_LOW, vq.avail);
    this.w(MmioReg.QUEUE_DRIVER_HIGH, 0);
    this.w(MmioReg.QUEUE_DEVICE_LOW, vq.used);
    this.w(MmioReg.QUEUE_DEVICE_HIGH, 0);
    this.w(MmioReg.QUEUE_READY, 1);
    this.queues[index] = vq;
    return vq;
  }

  driverOk(): void {
    this.w(MmioReg.STATUS, this.status | Status.DRIVER_OK);
  }

  /** vm_interrupt: read and acknowledge InterruptStatus. */
  interrupt(): number {
    const s = this.r(MmioReg.INTERRUPT_STATUS);
    this.w(MmioReg.INTERRUPT_ACK, s);
    if (s) this.interrupts.push(s);
    return s;
  }

  /** Whether the last interrupt handled included used buffers. */
  get sawVring(): boolean {
    return this.interrupts.some((s) => s & VIRTIO_INT_VRING);
  }

  /** vm_reset, then the queues are gone from the driver's side too. */
  reset(): void {
    this.w(MmioReg.STATUS, 0);
    this.queues.length = 0;
  }

  notify(index: number): void {
    this.w(MmioReg.QUEUE_NOTIFY, index);
  }
}

/** The driver's side of one split ring (struct vring_virtqueue). */
export class VirtqDriver {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  /** desc_extra[].next: the free list, as Linux keeps it outside the shared table. */
  private readonly nextFree: number[];
  private readonly chainLen: number[];
  private freeHead = 0;
  numFree: number;
  availIdxShadow = 0;
  availFlagsShadow = 0;
  lastUsedIdx = 0;
  private numAdded = 0;
  /** Force direct descriptors even when indirect is negotiated. */
  useIndirect: boolean;

  constructor(
    private readonly drv: FakeDriver,
    readonly index: number,
    readonly num: number,
    readonly eventIdx: boolean,
    indirect: boolean,
  ) {
    const mem = drv.mem;
    this.desc = mem.alloc(16 * num, 16);
    this.avail = mem.alloc(6 + 2 * num, 2);
    this.used = mem.alloc(6 + 8 * num, 4);
    mem.ram.bytes.fill(0, mem.off(this.desc), mem.off(this.used) + 6 + 8 * num);
    this.nextFree = Array.from({ length: num }, (_, i) => i + 1);
    this.chainLen = new Array<number>(num).fill(0);
    this.numFree = num;
    this.useIndirect = indirect;
  }

  get mem(): GuestMem {
    return this.drv.mem;
  }

  usedEventAddr(): number {
    return this.avail + 4 + 2 * this.num;
  }

  availEventAddr(): number {
    return this.used + 4 + 8 * this.num;
  }

  get usedIdx(): number {
    return this.mem.u16(this.used + 2);
  }

  /** virtqueue_add_split: out buffers (device-readable) then in buffers (device-writable). */
  add(out: Buf[], inn: Buf[]): number {
    const total = out.length + inn.length;
    const bufs = [...out.map((b) => ({ ...b, flags: 0 })), ...inn.map((b) => ({ ...b, flags: DESC_F_WRITE }))];
    const indirect = this.useIndirect && total > 1;
    const needed = indirect ? 1 : total;
    if (this.numFree < needed) throw new Error('ring full');
    const head = this.freeHead;
    if (indirect) {
      const table = this.mem.alloc(16 * total, 16);
      bufs.forEach((b, i) =>
        this.mem.setDesc(table, i, b.addr, b.len, b.flags | (i < total - 1 ? DESC_F_NEXT : 0), i + 1),
      );
      this.mem.setDesc(this.desc, head, table, 16 * total, DESC_F_INDIRECT, 0);
      this.freeHead = this.nextFree[head]!;
    } else {
      let i = head;
      bufs.forEach((b, k) => {
        const last = k === total - 1;
        this.mem.setDesc(this.desc, i, b.addr, b.len, b.flags | (last ? 0 : DESC_F_NEXT), last ? 0 : this.nextFree[i]!);
        if (!last) i = this.nextFree[i]!;
      });
      this.freeHead = this.nextFree[i]!;
    }
    this.chainLen[head] = needed;
    this.numFree -= needed;
    const slot = this.availIdxShadow & (this.num - 1);
    this.mem.setU16(this.avail + 4 + 2 * slot, head);
    this.availIdxShadow = (this.availIdxShadow + 1) & 0xffff;
    this.mem.setU16(this.avail + 2, this.availIdxShadow);
    this.numAdded++;
    return head;
  }

  /** virtqueue_kick_prepare + notify: returns whether the device was notified. */
  kick(): boolean {
    const newIdx = this.availIdxShadow;
    const old = (newIdx - this.numAdded) & 0xffff;
    this.numAdded = 0;
    const needs = this.eventIdx
      ? needEvent(this.mem.u16(this.availEventAddr()), newIdx, old)
      : (this.mem.u16(this.used) & 1) === 0; // VRING_USED_F_NO_NOTIFY
    if (needs) this.drv.notify(this.index);
    return needs;
  }

  /** virtqueue_get_buf: the next used buffer, or null. */
  getBuf(): { head: number; len: number } | null {
    if (this.lastUsedIdx === this.usedIdx) return null;
    const e = this.used + 4 + 8 * (this.lastUsedIdx & (this.num - 1));
    const head = this.mem.u32(e);
    const len = this.mem.u32(e + 4);
    if (head >= this.num || this.chainLen[head] === 0) throw new Error(`device returned bad id ${head}`);
    // detach_buf: return the chain's descriptors to the free list.
    let last = head;
    for (let k = 1; k < this.chainLen[head]!; k++) last = this.mem.u16(this.desc + 16 * last + 14);
    this.nextFree[last] = this.freeHead;
    this.freeHead = head;
    this.numFree += this.chainLen[head]!;
    this.chainLen[head] = 0;
    this.lastUsedIdx = (this.lastUsedIdx + 1) & 0xffff;
    if (!(this.availFlagsShadow & AVAIL_F_NO_INTERRUPT)) {
      this.mem.setU16(this.usedEventAddr(), this.lastUsedIdx);
    }
    return { head, len };
  }

  /** virtqueue_disable_cb. */
  disableCb(): void {
    if (this.availFlagsShadow & AVAIL_F_NO_INTERRUPT) return;
    this.availFlagsShadow |= AVAIL_F_NO_INTERRUPT;
    if (this.eventIdx) this.mem.setU16(this.usedEventAddr(), 0);
    else this.mem.setU16(this.avail, this.availFlagsShadow);
  }

  /** virtqueue_enable_cb: re-arms interrupts; false if buffers were used meanwhile. */
  enableCb(): boolean {
    if (this.availFlagsShadow & AVAIL_F_NO_INTERRUPT) {
      this.availFlagsShadow &= ~AVAIL_F_NO_INTERRUPT;
      if (!this.eventIdx) this.mem.setU16(this.avail, this.availFlagsShadow);
    }
    this.mem.setU16(this.usedEventAddr(), this.lastUsedIdx);
    return this.lastUsedIdx === this.usedIdx;
  }

  /** virtqueue_enable_cb_delayed's trick: interrupt only after `n` more buffers are used. */
  delayInterrupt(n: number): void {
    this.mem.setU16(this.usedEventAddr(), (this.lastUsedIdx + n - 1) & 0xffff);
  }
}
