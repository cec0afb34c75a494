// What virtio-blk needs from a disk image, and the one error type every backend throws.
//
// I/O is synchronous on purpose: the VMM completes each virtio request before it looks at
// the next one, so there is never an in-flight request to wait for, cancel, or snapshot.

import { basename } from 'node:path';
import type { DirtyLog, Extent } from './dirty.js';

export interface BlockBackend {
  /** Virtual disk size seen by the guest, in bytes. */
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  /** Serial number for VIRTIO_BLK_T_GET_ID: printable ASCII, at most 20 bytes. */
  readonly id: string;
  /** Fills dst with the bytes at [offset, offset + dst.length). */
  read(offset: number, dst: Uint8Array): void;
  write(offset: number, src: Uint8Array): void;
  /** Makes every completed write durable (virtio-blk FLUSH). */
  flush(): void;
  /** Hint that the range is unused; afterwards it reads either as before or as zeroes. */
  discard?(offset: number, length: number): void;
  /** After this the range reads as zeroes; mayUnmap lets the backend deallocate it. */
  writeZeroes?(offset: number, length: number, mayUnmap: boolean): void;
  /** Tracks changes (write, writeZeroes, discard) for block migration; absent: the disk cannot be migrated live. */
  readonly dirtyLog?: DirtyLog;
  /** What the image itself holds (see dirty.ts's allocatedExtents, which falls back to the whole disk). */
  allocatedExtents?(): Extent[];
  close(): void;
}

export type BlockErrorCode =
  | 'EIO' // the host file failed
  | 'ERANGE' // request outside the virtual disk
  | 'EROFS' // write to a read-only disk
  | 'EFORMAT' // the file is not a valid image of the expected format
  | 'ECORRUPT' // the image metadata is inconsistent
  | 'EUNSUPPORTED' // a valid image using a feature this implementation lacks
  | 'ELOOP' // backing chain loops or is too deep
  | 'ENOENT' // image or backing file not found
  | 'ECLOSED'; // use after close

export class BlockError extends Error {
  override readonly name = 'BlockError';
  constructor(
    readonly code: BlockErrorCode,
    message: string,
    readonly path?: string,
    options?: { cause?: unknown },
  ) {
    super(path === undefined ? message : `${path}: ${message}`, options);
  }
}

/** Throws ERANGE unless [offset, offset + length) lies within a disk of `size` bytes. */
export function checkRange(size: number, offset: number, length: number, path?: string): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > size
  ) {
    throw new BlockError('ERANGE', `request [${offset}, +${length}) is outside the disk of ${size} bytes`, path);
  }
}

/** A default GET_ID serial derived from the file name: stable, printable, at most 20 bytes. */
export function serialFromPath(path: string): string {
  const name = basename(path).replace(/\.(qcow2|raw|img)$/i, '');
  return name.replace(/[^\x21-\x7e]/g, '_').slice(0, 20);
}

/** Validates a caller-given serial: virtio-blk has exactly 20 bytes for it. */
export function checkSerial(id: string): string {
  if (Buffer.byteLength(id) > 20) throw new BlockError('EFORMAT', `disk id "${id}" is longer than 20 bytes`);
  return id;
}
