// virtio-blk (device ID 2) over a synchronous BlockBackend: read, write, flush, get-id, and
// discard / write-zeroes when the backend has them. One request queue.
//
// A request is a readable header {type u32, reserved u32, sector u64}, then data (readable for
// writes, writable for reads), then one writable status byte. Guest data moves straight
// between guest RAM and the backend, without a bounce buffer. Disk failures (BlockError) and
// requests outside the disk end as IOERR in the status byte; a request without header or
// status byte is a broken driver and breaks the device, and so does any other exception from
// the backend: that is a bug, which must not pass for a disk error. Both kinds are counted.
import type { AccessWidth } from '../../../bus/device.js';
import { BlockError, type BlockBackend } from '../../../block/backend.js';
import type { StateSection } from '../../../state/section.js';
import type { DescChain } from '../chain.js';
import { bit, DeviceId } from '../constants.js';
import { readLe, type VirtioDevice, type VirtioHost } from '../device.js';
import { VirtqueueError, type Virtqueue } from '../queue.js';
import { parseBlkState, VIRTIO_BLK_STATE_VERSION, type VirtioBlkState } from './persist.js';

export const BlkFeature = {
  SIZE_MAX: 1,
  SEG_MAX: 2,
  RO: 5,
  BLK_SIZE: 6,
  FLUSH: 9,
  DISCARD: 13,
  WRITE_ZEROES: 14,
} as const;

export const BlkReq = {
  IN: 0,
  OUT: 1,
  FLUSH: 4,
  GET_ID: 8,
  DISCARD: 11,
  WRITE_ZEROES: 13,
} as const;

export const BlkStatus = { OK: 0, IOERR: 1, UNSUPP: 2 } as const;

/** virtio_blk_config offsets. */
export const BlkConfig = {
  CAPACITY: 0x00,
  SIZE_MAX: 0x08,
  SEG_MAX: 0x0c,
  BLK_SIZE: 0x14,
  MAX_DISCARD_SECTORS: 0x24,
  MAX_DISCARD_SEG: 0x28,
  DISCARD_SECTOR_ALIGNMENT: 0x2c,
  MAX_WRITE_ZEROES_SECTORS: 0x30,
  MAX_WRITE_ZEROES_SEG: 0x34,
  WRITE_ZEROES_MAY_UNMAP: 0x38,
  SIZE: 0x3c,
} as const;

export const SECTOR = 512;
export const BLK_QUEUE_SIZE = 256;
/** Data segments per request: the queue size less header and status, as QEMU does. */
export const BLK_SEG_MAX = BLK_QUEUE_SIZE - 2;
export const BLK_SIZE_MAX = 1 << 20;
/** Per discard/write-zeroes segment; bounded so one request cannot stall the VMM for long. */
export const BLK_MAX_ZERO_SECTORS = 32768;
export const BLK_MAX_ZERO_SEGS = 16;
export const BLK_ID_BYTES = 20;

export interface BlkStats {
  /** Requests the backing image failed (BlockError), answered IOERR. */
  ioErrors: number;
  /** Other exceptions from the backend: bugs, each of which broke the device (DEVICE_NEEDS_RESET). */
  internalErrors: number;
  /** The latest of either, for the VM process to report. */
  lastError: string | undefined;
}

const HEADER = 16;
const DWZ_SEGMENT = 16;
const WZ_FLAG_UNMAP = 1;

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = DeviceId.BLOCK;
  readonly kind = 'virtio-blk';
  readonly features: bigint;
  readonly queueSizes = [BLK_QUEUE_SIZE];
  /** Whole sectors on the disk; a partial last sector is not visible, as in QEMU. */
  readonly capacity: number;
  readonly canDiscard: boolean;
  readonly canWriteZeroes: boolean;
  private readonly config = new Uint8Array(BlkConfig.SIZE);
  private readonly id: Uint8Array;
  private host: VirtioHost | undefined;
  private readonly errors: BlkStats = { ioErrors: 0, internalErrors: 0, lastError: undefined };

  constructor(readonly backend: BlockBackend) {
    this.capacity = Math.floor(backend.sizeBytes / SECTOR);
    this.canDiscard = !backend.readOnly && typeof backend.discard === 'function';
    this.canWriteZeroes = !backend.readOnly && typeof backend.writeZeroes === 'function';
    this.id = new TextEncoder().encode(backend.id).subarray(0, BLK_ID_BYTES);

    let f = bit(BlkFeature.SIZE_MAX) | bit(BlkFeature.SEG_MAX) | bit(BlkFeature.BLK_SIZE) | bit(BlkFeature.FLUSH);
    if (backend.readOnly) f |= bit(BlkFeature.RO);
    if (this.canDiscard) f |= bit(BlkFeature.DISCARD);
    if (this.canWriteZeroes) f |= bit(BlkFeature.WRITE_ZEROES);
    this.features = f;

    const v = new DataView(this.config.buffer);
    v.setUint32(BlkConfig.CAPACITY, this.capacity % 2 ** 32, true);
    v.setUint32(BlkConfig.CAPACITY + 4, Math.floor(this.capacity / 2 ** 32), true);
    v.setUint32(BlkConfig.SIZE_MAX, BLK_SIZE_MAX, true);
    v.setUint32(BlkConfig.SEG_MAX, BLK_SEG_MAX, true);
    v.setUint32(BlkConfig.BLK_SIZE, SECTOR, true);
    if (this.canDiscard) {
      v.setUint32(BlkConfig.MAX_DISCARD_SECTORS, BLK_MAX_ZERO_SECTORS, true);
      v.setUint32(BlkConfig.MAX_DISCARD_SEG, BLK_MAX_ZERO_SEGS, true);
      v.setUint32(BlkConfig.DISCARD_SECTOR_ALIGNMENT, 1, true);
    }
    if (this.canWriteZeroes) {
      v.setUint32(BlkConfig.MAX_WRITE_ZEROES_SECTORS, BLK_MAX_ZERO_SECTORS, true);
      v.setUint32(BlkConfig.MAX_WRITE_ZEROES_SEG, BLK_MAX_ZERO_SEGS, true);
      v.setUint8(BlkConfig.WRITE_ZEROES_MAY_UNMAP, 1);
    }
  }

  attach(host: VirtioHost): void {
    this.host = host;
  }

  /** Disk errors and bugs seen so far (a copy). */
  stats(): BlkStats {
    return { ...this.errors };
  }

  readConfig(offset: number, width: AccessWidth): number {
    return readLe(this.config, offset, width);
  }

  writeConfig(): void {
    // Nothing is writable: `writeback` needs CONFIG_WCE, which is not offered.
  }

  reset(): void {}

  processQueue(_index: number, queue: Virtqueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) queue.push(chain, this.handle(chain));
  }

  /** Runs one request; returns the bytes written into the chain (data + status). */
  private handle(chain: DescChain): number {
    if (chain.readableLen < HEADER || chain.writableLen < 1) {
      throw new VirtqueueError('virtio-blk request without a header or a status byte');
    }
    const header = new Uint8Array(HEADER);
    chain.read(0, header);
    const hdr = new DataView(header.buffer);
    const type = hdr.getUint32(0, true);
    const sector = hdr.getUint32(8, true) + hdr.getUint32(12, true) * 2 ** 32;
    const inLen = chain.writableLen - 1; // writable bytes before the status byte
    const outLen = chain.readableLen - HEADER; // readable bytes after the header
    let written = 0;
    let status: number;
    switch (type) {
      case BlkReq.IN:
        status = this.io(() => this.readInto(chain, sector, inLen));
        if (status === BlkStatus.OK) written = inLen;
        break;
      case BlkReq.OUT:
        status = this.backend.readOnly ? BlkStatus.IOERR : this.io(() => this.writeFrom(chain, sector, outLen));
        break;
      case BlkReq.FLUSH:
        status = this.io(() => this.backend.flush());
        break;
      case BlkReq.GET_ID: {
        const id = new Uint8Array(Math.min(BLK_ID_BYTES, inLen)); // NUL-padded, no NUL if 20 long
        id.set(this.id.subarray(0, id.length));
        written = chain.write(0, id);
        status = BlkStatus.OK;
        break;
      }
      case BlkReq.DISCARD:
      case BlkReq.WRITE_ZEROES:
        status = this.discardOrZero(chain, type, outLen);
        break;
      default:
        status = BlkStatus.UNSUPP;
    }
    chain.write(inLen, Uint8Array.of(status));
    return written + 1;
  }

  /**
   * Runs disk I/O: false (a request outside the disk) and a BlockError become IOERR; anything
   * else is recorded and rethrown, for the transport to mark the device DEVICE_NEEDS_RESET.
   */
  private io(fn: () => boolean | void): number {
    try {
      return fn() === false ? BlkStatus.IOERR : BlkStatus.OK;
    } catch (e) {
      this.errors.lastError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      if (!(e instanceof BlockError)) {
        this.errors.internalErrors++;
        throw e;
      }
      this.errors.ioErrors++;
      return BlkStatus.IOERR;
    }
  }

  /** Whether [sector, +bytes) is whole sectors inside the disk. */
  private inRange(sector: number, bytes: number): boolean {
    return bytes % SECTOR === 0 && sector <= this.capacity && bytes / SECTOR <= this.capacity - sector;
  }

  private readInto(chain: DescChain, sector: number, len: number): boolean {
    if (!this.inRange(sector, len)) return false;
    const ram = this.host!.ram.bytes;
    let pos = sector * SECTOR;
    chain.writeRanges(0, len, (off, n) => {
      this.backend.read(pos, ram.subarray(off, off + n));
      pos += n;
    });
    return true;
  }

  private writeFrom(chain: DescChain, sector: number, len: number): boolean {
    if (!this.inRange(sector, len)) return false;
    const ram = this.host!.ram.bytes;
    let pos = sector * SECTOR;
    chain.readRanges(HEADER, len, (off, n) => {
      this.backend.write(pos, ram.subarray(off, off + n));
      pos += n;
    });
    return true;
  }

  private discardOrZero(chain: DescChain, type: number, len: number): number {
    const zero = type === BlkReq.WRITE_ZEROES;
    if (!(zero ? this.canWriteZeroes : this.canDiscard)) return BlkStatus.UNSUPP;
    if (len === 0 || len % DWZ_SEGMENT !== 0 || len / DWZ_SEGMENT > BLK_MAX_ZERO_SEGS) return BlkStatus.IOERR;
    const segs = new DataView(chain.readAll(HEADER).buffer, 0, len);
    // Check every segment before touching the disk, so a bad one leaves the disk untouched.
    for (let i = 0; i < len; i += DWZ_SEGMENT) {
      const flags = segs.getUint32(i + 12, true);
      // Unknown flags, or UNMAP on a discard, are UNSUPP by the spec.
      if (flags & ~(zero ? WZ_FLAG_UNMAP : 0)) return BlkStatus.UNSUPP;
      const sector = segs.getUint32(i, true) + segs.getUint32(i + 4, true) * 2 ** 32;
      const count = segs.getUint32(i + 8, true);
      if (count > BLK_MAX_ZERO_SECTORS || !this.inRange(sector, count * SECTOR)) return BlkStatus.IOERR;
    }
    return this.io(() => {
      for (let i = 0; i < len; i += DWZ_SEGMENT) {
        const offset = (segs.getUint32(i, true) + segs.getUint32(i + 4, true) * 2 ** 32) * SECTOR;
        const bytes = segs.getUint32(i + 8, true) * SECTOR;
        if (zero) this.backend.writeZeroes!(offset, bytes, (segs.getUint32(i + 12, true) & WZ_FLAG_UNMAP) !== 0);
        else this.backend.discard!(offset, bytes);
      }
    });
  }

  saveState(): StateSection<VirtioBlkState> {
    return { name: this.kind, version: VIRTIO_BLK_STATE_VERSION, data: this.disk };
  }

  /** Only checks that the disk is the one the guest saw: the device keeps no state across notifies. */
  restoreState(section: StateSection): void {
    parseBlkState(section, this.kind, this.disk);
  }

  /** The disk as the guest sees it. */
  private get disk(): VirtioBlkState {
    return { capacity: this.capacity, readOnly: this.backend.readOnly };
  }
}
