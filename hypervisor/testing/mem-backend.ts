// An in-memory BlockBackend for virtio-blk tests, recording what the device asked of it and
// able to fail on demand.
import { BlockError, checkRange, type BlockBackend } from '../src/block/backend.js';

export interface MemBackendOptions {
  readOnly?: boolean;
  id?: string;
  /** Leave out discard / writeZeroes, as a backend without them would. */
  noDiscard?: boolean;
  noWriteZeroes?: boolean;
}

export class MemBackend implements BlockBackend {
  readonly data: Uint8Array;
  readonly readOnly: boolean;
  readonly id: string;
  flushes = 0;
  discards: Array<[number, number]> = [];
  zeroes: Array<[number, number, boolean]> = [];
  /** The next backend call throws this (once). */
  failNext: Error | undefined;
  discard?: (offset: number, length: number) => void;
  writeZeroes?: (offset: number, length: number, mayUnmap: boolean) => void;

  constructor(
    readonly sizeBytes: number,
    opts: MemBackendOptions = {},
  ) {
    this.data = new Uint8Array(sizeBytes);
    this.readOnly = opts.readOnly ?? false;
    this.id = opts.id ?? 'mem-disk';
    if (!opts.noDiscard) {
      this.discard = (offset, length) => {
        this.check(offset, length);
        this.discards.push([offset, length]);
      };
    }
    if (!opts.noWriteZeroes) {
      this.writeZeroes = (offset, length, mayUnmap) => {
        this.check(offset, length);
        this.data.fill(0, offset, offset + length);
        this.zeroes.push([offset, length, mayUnmap]);
      };
    }
  }

  private check(offset: number, length: number): void {
    const f = this.failNext;
    this.failNext = undefined;
    if (f) throw f;
    checkRange(this.sizeBytes, offset, length);
  }

  read(offset: number, dst: Uint8Array): void {
    this.check(offset, dst.length);
    dst.set(this.data.subarray(offset, offset + dst.length));
  }

  write(offset: number, src: Uint8Array): void {
    this.check(offset, src.length);
    if (this.readOnly) throw new BlockError('EROFS', 'read-only');
    this.data.set(src, offset);
  }

  flush(): void {
    this.check(0, 0);
    this.flushes++;
  }

  close(): void {}
}
