// A descriptor chain as the device sees it: the guest buffers it names, already checked to
// lie inside guest RAM, split into the device-readable part and the device-writable part.
// Both parts read as one byte stream each, whatever the guest's segmentation, so devices
// never look at descriptors themselves.
import type { GuestRam } from '../../bus/ram.js';

/** A piece of a guest buffer: an offset into `ram.bytes` and a length. */
export interface Segment {
  off: number;
  len: number;
}

export class DescChain {
  readonly readableLen: number;
  readonly writableLen: number;

  constructor(
    private readonly ram: GuestRam,
    /** Index of the head descriptor: what goes into the used ring. */
    readonly head: number,
    readonly readable: readonly Segment[],
    readonly writable: readonly Segment[],
  ) {
    this.readableLen = total(readable);
    this.writableLen = total(writable);
  }

  /** Calls fn for each RAM range covering [pos, pos + len) of the readable stream; returns bytes covered. */
  readRanges(pos: number, len: number, fn: (off: number, len: number) => void): number {
    return ranges(this.readable, pos, len, fn);
  }

  /**
   * Calls fn for each RAM range covering [pos, pos + len) of the writable stream, so a device can
   * fill guest memory in place; the ranges are noted as written (dirty log, translated code)
   * even if fn throws halfway. Returns bytes covered.
   */
  writeRanges(pos: number, len: number, fn: (off: number, len: number) => void): number {
    return ranges(this.writable, pos, len, (off, n) => {
      try {
        fn(off, n);
      } finally {
        this.ram.noteWriteRange(off, n);
      }
    });
  }

  /** Copies readable bytes from stream position pos into dst; returns how many there were. */
  read(pos: number, dst: Uint8Array): number {
    let done = 0;
    this.readRanges(pos, dst.length, (off, n) => {
      dst.set(this.ram.bytes.subarray(off, off + n), done);
      done += n;
    });
    return done;
  }

  /** The whole readable stream from pos on, as a fresh copy. */
  readAll(pos = 0): Uint8Array {
    const out = new Uint8Array(Math.max(0, this.readableLen - pos));
    this.read(pos, out);
    return out;
  }

  /** Copies src into the writable stream at pos; returns how many bytes fitted. */
  write(pos: number, src: Uint8Array): number {
    let done = 0;
    this.writeRanges(pos, src.length, (off, n) => {
      this.ram.bytes.set(src.subarray(done, done + n), off);
      done += n;
    });
    return done;
  }
}

function total(segs: readonly Segment[]): number {
  let n = 0;
  for (const s of segs) n += s.len;
  return n;
}

function ranges(segs: readonly Segment[], pos: number, len: number, fn: (off: number, len: number) => void): number {
  let done = 0;
  for (const s of segs) {
    if (done === len) break;
    if (pos >= s.len) {
      pos -= s.len;
      continue;
    }
    const n = Math.min(s.len - pos, len - done);
    fn(s.off + pos, n);
    done += n;
    pos = 0;
  }
  return done;
}
