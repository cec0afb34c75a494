// Synchronous positional I/O on a host file, with every failure turned into a BlockError.

import * as fs from 'node:fs';
import { BlockError } from './backend.js';

export class HostFile {
  private fd: number;
  /** Size as far as this process knows it: writes past the end extend it. */
  private knownSize: number;

  private constructor(
    readonly path: string,
    fd: number,
    readonly readOnly: boolean,
  ) {
    this.fd = fd;
    this.knownSize = fs.fstatSync(fd).size;
  }

  static open(path: string, readOnly: boolean): HostFile {
    let fd: number;
    try {
      fd = fs.openSync(path, readOnly ? 'r' : 'r+');
    } catch (e) {
      throw wrap(e, path, 'cannot open');
    }
    try {
      // Block devices would need an ioctl for their size, which Node lacks: files only.
      if (!fs.fstatSync(fd).isFile()) throw new BlockError('EFORMAT', 'not a regular file', path);
      return new HostFile(path, fd, readOnly);
    } catch (e) {
      fs.closeSync(fd);
      throw e instanceof BlockError ? e : wrap(e, path, 'cannot stat');
    }
  }

  /** Creates (or truncates) a file for writing. */
  static create(path: string): HostFile {
    let fd: number;
    try {
      fd = fs.openSync(path, 'w+');
    } catch (e) {
      throw wrap(e, path, 'cannot create');
    }
    return new HostFile(path, fd, false);
  }

  get size(): number {
    return this.knownSize;
  }

  /** Reads exactly dst.length bytes; bytes past the end of the file read as zeroes. Returns bytes really read. */
  readPadded(offset: number, dst: Uint8Array): number {
    const fd = this.checkOpen();
    let done = 0;
    while (done < dst.length) {
      let n: number;
      try {
        n = fs.readSync(fd, dst, done, dst.length - done, offset + done);
      } catch (e) {
        throw wrap(e, this.path, `read of ${dst.length} bytes at ${offset} failed`);
      }
      if (n === 0) break;
      done += n;
    }
    dst.fill(0, done);
    return done;
  }

  /** Reads exactly dst.length bytes or throws: for metadata, where a short read means a truncated image. */
  readExact(offset: number, dst: Uint8Array, what: string): void {
    if (this.readPadded(offset, dst) !== dst.length) {
      throw new BlockError(
        'ECORRUPT',
        `${what} at offset 0x${offset.toString(16)} (+${dst.length}) lies beyond the end of the file (${this.knownSize} bytes): image truncated?`,
        this.path,
      );
    }
  }

  write(offset: number, src: Uint8Array): void {
    if (this.readOnly) throw new BlockError('EROFS', 'file is open read-only', this.path);
    const fd = this.checkOpen();
    let done = 0;
    while (done < src.length) {
      try {
        done += fs.writeSync(fd, src, done, src.length - done, offset + done);
      } catch (e) {
        throw wrap(e, this.path, `write of ${src.length} bytes at ${offset} failed`);
      }
    }
    this.knownSize = Math.max(this.knownSize, offset + src.length);
  }

  truncate(size: number): void {
    const fd = this.checkOpen();
    try {
      fs.ftruncateSync(fd, size);
    } catch (e) {
      throw wrap(e, this.path, `truncate to ${size} failed`);
    }
    this.knownSize = size;
  }

  /** fdatasync: file data (and the size, which data retrieval needs) reach stable storage. */
  datasync(): void {
    if (this.readOnly) return;
    const fd = this.checkOpen();
    try {
      fs.fdatasyncSync(fd);
    } catch (e) {
      throw wrap(e, this.path, 'fdatasync failed');
    }
  }

  /** Bytes actually allocated on the host (st_blocks), as `qemu-img info` reports it. */
  allocatedBytes(): number {
    return fs.fstatSync(this.checkOpen()).blocks * 512;
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      fs.closeSync(fd);
    } catch (e) {
      throw wrap(e, this.path, 'close failed');
    }
  }

  private checkOpen(): number {
    if (this.fd < 0) throw new BlockError('ECLOSED', 'file is closed', this.path);
    return this.fd;
  }
}

function wrap(e: unknown, path: string, what: string): BlockError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (code === 'ENOENT') return new BlockError('ENOENT', `${what}: no such file`, path, { cause: e });
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return new BlockError('EROFS', `${what}: ${msg}`, path, { cause: e });
  }
  return new BlockError('EIO', `${what}: ${msg}`, path, { cause: e });
}
