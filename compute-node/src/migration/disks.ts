// Block migration: the VM's disks travel with its RAM, in Disk frames on the same sequence,
// checksums, credits and resends as the pages.
//
//   record = u16 disk | u8 kind | u8 0 | u32 length | u32 offset low | u32 offset high | payload
//   Zero   the range reads as zeroes (the destination writes zeroes), no payload
//   Data   `length` bytes
//
// The source sends what each disk itself holds (a qcow2 overlay's own clusters, not the base
// image every node has) in round 1, then the blocks the disks' dirty logs caught, a
// DISK_BLOCK at a time. Each block is read through the backend, so what travels is what the
// guest sees there (a partly written cluster included); the destination writes it into its own
// overlay over the same base, so both read the same everywhere.
import { allocatedExtents, type BlockBackend } from '@hypernova/hypervisor';
import { DirtySet, type EncodedFrame } from './pages.js';
import { MigrationError } from './types.js';
import { frameBuffer, HEADER_SIZE } from './wire.js';

export const enum DiskKind {
  Zero = 0,
  Data = 1,
}

/** Granularity of the dirty logs and of the Data records. */
export const DISK_BLOCK = 64 * 1024;
export const DISK_RECORD = 16;
/** Longest zero run one record carries. */
const MAX_ZERO_RUN = 1 << 30;
const ZERO_BLOCK = Buffer.alloc(DISK_BLOCK);

/** The source's side: per disk, the blocks still to send, and the frames carrying them. */
export class DiskCopy {
  private readonly queues: DirtySet[];
  /** Bytes (in whole blocks) round 1 queued: what the disks hold. */
  totalBytes = 0;
  /** Blocks read and sent, every round counted. */
  blocksSent = 0;
  private logging = false;

  constructor(
    readonly disks: readonly BlockBackend[],
    /** Body bytes per frame; at least one block and its record. */
    private readonly frameBytes: number,
  ) {
    this.queues = disks.map((d) => new DirtySet(Math.ceil(d.sizeBytes / DISK_BLOCK)));
  }

  get sizes(): number[] {
    return this.disks.map((d) => d.sizeBytes);
  }

  get remainingBlocks(): number {
    let n = 0;
    for (const q of this.queues) n += q.count;
    return n;
  }

  /** Throws unless every disk can log writes and its log is free. */
  check(): void {
    this.disks.forEach((d, i) => {
      if (!d.dirtyLog) throw new MigrationError('state', `disk ${i} cannot track writes`);
      if (d.dirtyLog.active) throw new MigrationError('state', `the dirty log of disk ${i} is in use by someone else`);
    });
  }

  /** Starts the dirty logs, then queues what the disks hold: a write after this is seen. */
  start(): void {
    this.logging = true;
    this.disks.forEach((d, i) => {
      d.dirtyLog!.start(DISK_BLOCK);
      for (const e of allocatedExtents(d))
        this.queues[i]!.addRange(Math.floor(e.offset / DISK_BLOCK), Math.ceil((e.offset + e.length) / DISK_BLOCK));
    });
    this.totalBytes = this.remainingBlocks * DISK_BLOCK;
  }

  /** Queues the blocks written since the last call; returns their bytes. */
  collect(): number {
    let bytes = 0;
    this.disks.forEach((d, i) => {
      const blocks = d.dirtyLog!.fetch();
      this.queues[i]!.add(blocks);
      bytes += blocks.length * DISK_BLOCK;
    });
    return bytes;
  }

  /** Stops the logs start() started (not someone else's, which check() refused). */
  stop(): void {
    if (!this.logging) return;
    this.logging = false;
    for (const d of this.disks) d.dirtyLog!.stop();
  }

  /** One frame of queued blocks (zero blocks as runs), or undefined when none is left; closes the frame at `deadline`. */
  next(deadline = Infinity): EncodedFrame | undefined {
    const buf = frameBuffer(this.frameBytes);
    const end = HEADER_SIZE + this.frameBytes;
    let pos = HEADER_SIZE;
    /** The last record when it is a zero run that the next zero block may extend. */
    let run = { at: -1, disk: -1, end: -1, length: 0 };
    let blocks = 0;
    fill: for (let i = 0; i < this.disks.length; i++) {
      const disk = this.disks[i]!;
      const q = this.queues[i]!;
      for (let b = q.peek(); b >= 0; b = q.peek()) {
        const offset = b * DISK_BLOCK;
        const length = Math.min(DISK_BLOCK, disk.sizeBytes - offset);
        // Read into the frame; room for the block is needed even if it turns out zero.
        if (pos + DISK_RECORD + length > end) break fill;
        const data = buf.subarray(pos + DISK_RECORD, pos + DISK_RECORD + length);
        try {
          disk.read(offset, data);
        } catch (e) {
          throw new MigrationError('state', `disk ${i}: ${(e as Error).message}`);
        }
        q.take();
        blocks++;
        if (ZERO_BLOCK.compare(data, 0, length, 0, length) !== 0) {
          writeRecord(buf, pos, i, DiskKind.Data, offset, length);
          pos += DISK_RECORD + length;
          run.at = -1;
        } else if (run.at >= 0 && run.disk === i && run.end === offset && run.length + length <= MAX_ZERO_RUN) {
          run.length += length;
          run.end += length;
          buf.writeUInt32LE(run.length, run.at + 4);
        } else {
          writeRecord(buf, pos, i, DiskKind.Zero, offset, length);
          run = { at: pos, disk: i, end: offset + length, length };
          pos += DISK_RECORD;
        }
        if (performance.now() > deadline) break fill;
      }
    }
    this.blocksSent += blocks;
    const bodyLength = pos - HEADER_SIZE;
    return bodyLength > 0 ? { buf, bodyLength, flags: 0, pages: blocks } : undefined;
  }
}

function writeRecord(buf: Buffer, pos: number, disk: number, kind: DiskKind, offset: number, length: number): void {
  buf.writeUInt16LE(disk, pos);
  buf.writeUInt8(kind, pos + 2);
  buf.writeUInt8(0, pos + 3);
  buf.writeUInt32LE(length, pos + 4);
  buf.writeUInt32LE(offset % 2 ** 32, pos + 8);
  buf.writeUInt32LE(Math.floor(offset / 2 ** 32), pos + 12);
}

/** The destination's side: writes a Disk body's records into its disks; returns the bytes written or an error message. */
export function applyDiskRecords(body: Buffer, disks: readonly BlockBackend[]): number | string {
  let bytes = 0;
  for (let pos = 0; pos < body.length;) {
    if (pos + DISK_RECORD > body.length) return 'truncated disk record';
    const i = body.readUInt16LE(pos);
    const kind = body.readUInt8(pos + 2);
    const length = body.readUInt32LE(pos + 4);
    const offset = body.readUInt32LE(pos + 8) + body.readUInt32LE(pos + 12) * 2 ** 32;
    pos += DISK_RECORD;
    const disk = disks[i];
    if (!disk) return `disk ${i} does not exist`;
    if (length === 0 || offset + length > disk.sizeBytes)
      return `disk ${i}: range ${offset}+${length} outside the disk`;
    try {
      if (kind === DiskKind.Zero) {
        disk.writeZeroes!(offset, length, true);
      } else if (kind === DiskKind.Data) {
        if (pos + length > body.length) return 'truncated disk data';
        disk.write(offset, body.subarray(pos, pos + length));
        pos += length;
      } else {
        return `unknown disk record kind ${kind}`;
      }
    } catch (e) {
      return `disk ${i}: ${(e as Error).message}`;
    }
    bytes += length;
  }
  return bytes;
}
