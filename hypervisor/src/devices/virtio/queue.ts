// A split virtqueue (virtio 1.x, "Split Virtqueues"): the descriptor table, the available ring
// the driver fills and the used ring the device fills, all in guest RAM.
//
// Everything the guest wrote is untrusted. Every malformed structure (rings or buffers outside
// RAM, chains that loop or outgrow the queue, nested indirect tables, an available index that
// jumps by more than the queue size) raises VirtqueueError, which the transport turns into
// DEVICE_NEEDS_RESET; nothing here throws anything else on guest input.
//
// Devices complete every chain they pop before returning to the transport, so lastAvailIdx is
// also the count of completed chains: the ring indices alone are the queue's whole state.
import type { GuestRam } from '../../bus/ram.js';
import { DescChain, type Segment } from './chain.js';
import {
  DESC_SIZE,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
} from './constants.js';
import type { VirtqueueState } from './persist.js';

/**
 * Entries in one indirect table at most. The spec bounds only direct chains (by the queue
 * size); QEMU caps a request at 1024 buffers and so do we, so a guest cannot make one request
 * cost a walk over megabytes of descriptors.
 */
export const MAX_INDIRECT_DESCS = 1024;

export class VirtqueueError extends Error {
  override readonly name = 'VirtqueueError';
}

/** vring_need_event: has new_idx moved past event since old (all mod 2^16)? */
export const needEvent = (event: number, newIdx: number, old: number): boolean =>
  ((newIdx - event - 1) & 0xffff) < ((newIdx - old) & 0xffff);

/** The three areas of a split virtqueue, named as their MMIO registers are. */
export type Ring = 'desc' | 'driver' | 'device';
/** A guest-physical address as [low, high] 32-bit halves, as the registers hold it. */
export type Addr64 = [number, number];

/**
 * Where the rings of a queue of `size` entries lie in RAM (offsets), checking the size and
 * that each area is inside RAM; VirtqueueError otherwise. Changes nothing, so a restore can
 * check saved queues before it applies any of them.
 */
export function ringOffsets(
  ram: GuestRam,
  maxSize: number,
  size: number,
  addr: Readonly<Record<Ring, Addr64>>,
): Record<Ring, number> {
  if (!Number.isInteger(size) || size < 1 || size > maxSize || (size & (size - 1)) !== 0) {
    throw new VirtqueueError(`queue size ${size} is not a power of 2 in 1..${maxSize}`);
  }
  const area = ([lo, hi]: Addr64, len: number, what: string): number => {
    const off = hi === 0 ? ram.offsetOf(lo, len) : -1;
    if (off < 0) throw new VirtqueueError(`${what} at 0x${hex64(lo, hi)} (+${len}) is outside guest RAM`);
    return off;
  };
  // The event fields are counted whether or not EVENT_IDX is on: Linux always allocates them.
  return {
    desc: area(addr.desc, DESC_SIZE * size, 'descriptor table'),
    driver: area(addr.driver, 6 + 2 * size, 'available ring'),
    device: area(addr.device, 6 + 8 * size, 'used ring'),
  };
}

export class Virtqueue {
  // Registers the driver programs (QueueNum, QueueReady, QueueDesc/Driver/Device).
  #size: number;
  #ready = false;
  private readonly addr: Record<Ring, Addr64> = { desc: [0, 0], driver: [0, 0], device: [0, 0] };

  // Ring progress.
  private lastAvailIdx = 0;
  private usedIdx = 0;
  /** used idx at the last interrupt decision (EVENT_IDX), and whether there was one. */
  private signalledUsed = 0;
  private signalledValid = false;

  // Fixed at activation from the negotiated features.
  private eventIdx = false;
  private indirect = false;

  private descOff = -1;
  private availOff = -1;
  private usedOff = -1;
  /** Chains were completed since the last interrupt decision. */
  private pushed = false;

  constructor(
    private readonly ram: GuestRam,
    readonly maxSize: number,
  ) {
    this.#size = maxSize;
  }

  /** QueueNum. */
  get size(): number {
    return this.#size;
  }

  /** QueueReady. */
  get ready(): boolean {
    return this.#ready;
  }

  /** A QueueNum write; ignored while the queue runs, as the layout registers are. */
  setSize(n: number): void {
    if (!this.#ready) this.#size = n;
  }

  /** QueueDesc/Driver/Device Low (half 0) or High (half 1). */
  ringAddress(ring: Ring, half: 0 | 1): number {
    return this.addr[ring][half];
  }

  /** A QueueDesc/Driver/Device write; ignored while the queue runs (the spec forbids it then). */
  setRingAddress(ring: Ring, half: 0 | 1, value: number): void {
    if (!this.#ready) this.addr[ring][half] = value >>> 0;
  }

  /** Back to the state after device reset; QueueNum defaults to the maximum, as in QEMU. */
  reset(): void {
    this.disable();
    this.#size = this.maxSize;
    for (const a of Object.values(this.addr)) a.fill(0);
  }

  /** QueueReady = 0: the queue stops; its progress is forgotten. */
  disable(): void {
    this.#ready = false;
    this.lastAvailIdx = this.usedIdx = this.signalledUsed = 0;
    this.signalledValid = this.pushed = false;
    this.eventIdx = this.indirect = false;
    this.descOff = this.availOff = this.usedOff = -1;
  }

  /**
   * QueueReady = 1: checks the size and that the three ring areas lie in RAM. On failure the
   * queue stays disabled and VirtqueueError is thrown.
   */
  enable(eventIdx: boolean, indirect: boolean): void {
    let off: Record<Ring, number>;
    try {
      off = ringOffsets(this.ram, this.maxSize, this.#size, this.addr);
    } catch (e) {
      this.disable();
      throw e;
    }
    this.#ready = true;
    this.eventIdx = eventIdx;
    this.indirect = indirect;
    this.descOff = off.desc;
    this.availOff = off.driver;
    this.usedOff = off.device;
  }

  save(): VirtqueueState {
    return {
      size: this.#size,
      ready: this.#ready,
      desc: [...this.addr.desc],
      driver: [...this.addr.driver],
      device: [...this.addr.device],
      lastAvailIdx: this.lastAvailIdx,
      usedIdx: this.usedIdx,
      signalledUsed: this.signalledUsed,
      signalledValid: this.signalledValid,
      eventIdx: this.eventIdx,
      indirect: this.indirect,
    };
  }

  /** Takes state checked by parseVirtioMmioState, whose rings were found to fit this RAM. */
  restore(s: VirtqueueState): void {
    this.reset();
    this.#size = s.size;
    for (const ring of ['desc', 'driver', 'device'] as const) this.addr[ring] = [...s[ring]];
    if (!s.ready) return;
    this.enable(s.eventIdx, s.indirect);
    this.lastAvailIdx = s.lastAvailIdx;
    this.usedIdx = s.usedIdx;
    this.signalledUsed = s.signalledUsed;
    this.signalledValid = s.signalledValid;
  }

  private u16(off: number): number {
    return this.ram.view.getUint16(off, true);
  }

  /** Chains the driver has made available and the device has not taken. */
  available(): number {
    if (!this.#ready) return 0;
    const n = (this.u16(this.availOff + 2) - this.lastAvailIdx) & 0xffff;
    if (n > this.size) throw new VirtqueueError(`available index moved by ${n}, more than the queue size ${this.size}`);
    return n;
  }

  /** Takes the next available chain, or null if there is none. */
  pop(): DescChain | null {
    if (this.available() === 0) return null;
    const head = this.u16(this.availOff + 4 + 2 * (this.lastAvailIdx & (this.size - 1)));
    const chain = this.walk(head);
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    return chain;
  }

  /** Puts a completed chain in the used ring; len is how many bytes the device wrote into it. */
  push(chain: DescChain, len: number): void {
    const e = this.usedOff + 4 + 8 * (this.usedIdx & (this.size - 1));
    const v = this.ram.view;
    v.setUint32(e, chain.head, true);
    v.setUint32(e + 4, Math.min(len, chain.writableLen), true);
    this.ram.noteWriteRange(e, 8);
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    v.setUint16(this.usedOff + 2, this.usedIdx, true);
    this.ram.noteWriteRange(this.usedOff + 2, 2);
    this.pushed = true;
  }

  /**
   * After a batch of pushes: whether the driver wants a used-buffer interrupt for them, by
   * used_event with EVENT_IDX, else by VIRTQ_AVAIL_F_NO_INTERRUPT.
   */
  takeInterrupt(): boolean {
    if (!this.pushed || !this.#ready) return false;
    this.pushed = false;
    if (!this.eventIdx) return (this.u16(this.availOff) & VIRTQ_AVAIL_F_NO_INTERRUPT) === 0;
    const old = this.signalledUsed;
    const valid = this.signalledValid;
    this.signalledUsed = this.usedIdx;
    this.signalledValid = true;
    const usedEvent = this.u16(this.availOff + 4 + 2 * this.size);
    return !valid || needEvent(usedEvent, this.usedIdx, old);
  }

  /**
   * With EVENT_IDX, asks for a notification as soon as the driver makes anything available
   * past what the device has taken (avail_event = lastAvailIdx). Written only when it changes,
   * so idle kicks do not dirty the page.
   */
  publishAvailEvent(): void {
    if (!this.#ready || !this.eventIdx) return;
    const off = this.usedOff + 4 + 8 * this.size;
    if (this.u16(off) === this.lastAvailIdx) return;
    this.ram.view.setUint16(off, this.lastAvailIdx, true);
    this.ram.noteWriteRange(off, 2);
  }

  /**
   * The one descriptor-chain walker. A chain is zero or more direct descriptors, optionally
   * ending in one that points at an indirect table (whose own entries chain by index within
   * the table). Readable buffers must precede writable ones.
   */
  private walk(head: number): DescChain {
    const v = this.ram.view;
    const readable: Segment[] = [];
    const writable: Segment[] = [];
    let table = this.descOff;
    let count = this.size;
    let inIndirect = false;
    let idx = head;
    let steps = 0;
    if (idx >= count) throw new VirtqueueError(`head descriptor ${idx} is outside a queue of ${count}`);
    for (;;) {
      if (++steps > count) {
        throw new VirtqueueError(
          `descriptor chain from ${head} loops or is longer than ${inIndirect ? 'its indirect table' : 'the queue'} (${count})`,
        );
      }
      const d = table + DESC_SIZE * idx;
      const addr = v.getUint32(d, true);
      const addrHi = v.getUint32(d + 4, true);
      const len = v.getUint32(d + 8, true);
      const flags = v.getUint16(d + 12, true);
      const next = v.getUint16(d + 14, true);

      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) throw new VirtqueueError('indirect descriptor without VIRTIO_F_INDIRECT_DESC');
        if (inIndirect) throw new VirtqueueError('nested indirect descriptor table');
        if (flags & VIRTQ_DESC_F_NEXT) throw new VirtqueueError('indirect descriptor with NEXT set');
        if (len === 0 || len % DESC_SIZE !== 0)
          throw new VirtqueueError(`indirect table length ${len} is not a non-zero multiple of 16`);
        if (len / DESC_SIZE > MAX_INDIRECT_DESCS)
          throw new VirtqueueError(`indirect table of ${len / DESC_SIZE} entries (at most ${MAX_INDIRECT_DESCS})`);
        table = this.bufferOffset(addr, addrHi, len);
        count = len / DESC_SIZE;
        inIndirect = true;
        idx = 0;
        steps = 0;
        continue;
      }

      if (len > 0) {
        const seg = { off: this.bufferOffset(addr, addrHi, len), len };
        if (flags & VIRTQ_DESC_F_WRITE) writable.push(seg);
        else if (writable.length > 0)
          throw new VirtqueueError('device-readable descriptor after a device-writable one');
        else readable.push(seg);
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      idx = next;
      if (idx >= count) throw new VirtqueueError(`next descriptor ${idx} is outside a table of ${count}`);
    }
    return new DescChain(this.ram, head, readable, writable);
  }

  private bufferOffset(addr: number, addrHi: number, len: number): number {
    const off = addrHi === 0 ? this.ram.offsetOf(addr, len) : -1;
    if (off < 0) throw new VirtqueueError(`buffer at 0x${hex64(addr, addrHi)} (+${len}) is outside guest RAM`);
    return off;
  }
}

const hex64 = (lo: number, hi: number): string =>
  hi === 0 ? (lo >>> 0).toString(16) : (hi >>> 0).toString(16) + (lo >>> 0).toString(16).padStart(8, '0');
