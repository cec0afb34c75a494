// A raw image: the file is the disk, byte for byte.

import { BlockError, checkRange, checkSerial, serialFromPath, type BlockBackend } from './backend.js';
import { DirtyLog } from './dirty.js';
import { HostFile } from './file.js';

export interface RawOpenOptions {
  readOnly?: boolean;
  id?: string;
}

const ZERO_CHUNK = 1 << 20;

export class RawBackend implements BlockBackend {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly id: string;
  readonly dirtyLog: DirtyLog;

  private constructor(
    private readonly file: HostFile,
    id: string,
  ) {
    this.sizeBytes = file.size;
    this.readOnly = file.readOnly;
    this.id = id;
    this.dirtyLog = new DirtyLog(this.sizeBytes);
  }

  static open(path: string, opts: RawOpenOptions = {}): RawBackend {
    const id = checkSerial(opts.id ?? serialFromPath(path));
    return new RawBackend(HostFile.open(path, opts.readOnly ?? false), id);
  }

  /** Creates a sparse raw image of `size` bytes. */
  static create(path: string, size: number): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new BlockError('ERANGE', `invalid image size ${size}`, path);
    const file = HostFile.create(path);
    try {
      file.truncate(size);
    } finally {
      file.close();
    }
  }

  get path(): string {
    return this.file.path;
  }

  read(offset: number, dst: Uint8Array): void {
    checkRange(this.sizeBytes, offset, dst.length, this.file.path);
    this.file.readPadded(offset, dst);
  }

  write(offset: number, src: Uint8Array): void {
    this.checkWritable();
    checkRange(this.sizeBytes, offset, src.length, this.file.path);
    this.dirtyLog.note(offset, src.length);
    this.file.write(offset, src);
  }

  flush(): void {
    this.file.datasync();
  }

  /** Node cannot punch holes, and virtio lets a discarded range keep its data: nothing to do. */
  discard(offset: number, length: number): void {
    this.checkWritable();
    checkRange(this.sizeBytes, offset, length, this.file.path);
    this.dirtyLog.note(offset, length);
  }

  writeZeroes(offset: number, length: number, _mayUnmap: boolean): void {
    this.checkWritable();
    checkRange(this.sizeBytes, offset, length, this.file.path);
    this.dirtyLog.note(offset, length);
    const zeroes = new Uint8Array(Math.min(length, ZERO_CHUNK));
    for (let done = 0; done < length; done += zeroes.length) {
      const n = Math.min(zeroes.length, length - done);
      this.file.write(offset + done, n === zeroes.length ? zeroes : zeroes.subarray(0, n));
    }
  }

  /** Bytes the file occupies on the host. */
  allocatedBytes(): number {
    return this.file.allocatedBytes();
  }

  close(): void {
    this.file.close();
  }

  private checkWritable(): void {
    if (this.readOnly) throw new BlockError('EROFS', 'disk is read-only', this.file.path);
  }
}
