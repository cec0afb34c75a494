// Write tracking for a disk (block migration): while on, every guest-visible change to the disk
// (write, write-zeroes, discard) marks the fixed-size blocks it touches; the migration fetches
// and clears them between rounds, as GuestRam's dirty log does for pages. Off, noting a write
// costs one branch.

import { BlockError, type BlockBackend } from './backend.js';

export class DirtyLog {
  private bits: Uint8Array | undefined;
  private marked: number[] = [];
  private blockBytes = 0;

  constructor(private readonly sizeBytes: number) {}

  get active(): boolean {
    return this.bits !== undefined;
  }

  /** Bytes per tracked block (0 while off). */
  get granularity(): number {
    return this.blockBytes;
  }

  /** Starts tracking in blocks of `granularity` bytes (block i = [i * granularity, +granularity)). */
  start(granularity: number): void {
    if (this.bits) throw new BlockError('EUNSUPPORTED', 'the disk dirty log is already in use');
    if (!Number.isSafeInteger(granularity) || granularity <= 0)
      throw new BlockError('ERANGE', `invalid dirty log granularity ${granularity}`);
    this.blockBytes = granularity;
    this.bits = new Uint8Array(Math.ceil(this.sizeBytes / granularity));
    this.marked = [];
  }

  /** Called by the backend for each change to [offset, offset + length). */
  note(offset: number, length: number): void {
    const bits = this.bits;
    if (bits === undefined || length <= 0) return;
    const last = Math.floor((offset + length - 1) / this.blockBytes);
    for (let b = Math.floor(offset / this.blockBytes); b <= last; b++) {
      if (bits[b]) continue;
      bits[b] = 1;
      this.marked.push(b);
    }
  }

  /** The blocks changed since start or the last fetch, ascending; clears them. */
  fetch(): number[] {
    const out = this.marked;
    this.marked = [];
    if (this.bits) for (const b of out) this.bits[b] = 0;
    return out.sort((a, b) => a - b);
  }

  stop(): void {
    this.bits = undefined;
    this.marked = [];
    this.blockBytes = 0;
  }
}

/** A range of the virtual disk; `zero` when the image records it as reading zeroes. */
export interface Extent {
  offset: number;
  length: number;
  zero: boolean;
}

/**
 * The ranges the disk itself holds, in ascending order: for an image with a backing file, what
 * its top layer has (data or explicit zeroes), not what shows through from below. A backend that
 * cannot tell (raw) holds the whole disk.
 */
export function allocatedExtents(disk: BlockBackend): Extent[] {
  return disk.allocatedExtents?.() ?? (disk.sizeBytes > 0 ? [{ offset: 0, length: disk.sizeBytes, zero: false }] : []);
}
