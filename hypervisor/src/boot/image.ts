// Raw images: a Linux RISC-V `Image` (Documentation/riscv/boot-image-header.rst) or any flat
// binary (firmware, initrd), copied to RAM at a given address.
import type { GuestRam } from '../bus/ram.js';
import { BootImageError, ramRange } from './elf.js';

const HEADER_SIZE = 64;
/** "RISCV\0\0\0" at 0x30 (deprecated since header version 0.2, still written). */
const MAGIC = 'RISCV\0\0\0';
/** "RSC\x05" at 0x38. */
const MAGIC2 = 'RSC\x05';

export interface LinuxImageHeader {
  /** Where the kernel wants to be placed from the start of RAM (RV32 kernels need 4 MiB alignment instead). */
  textOffset: number;
  /** The memory the kernel occupies once running, BSS included: more than the file. */
  imageSize: number;
  flags: number;
  /** Header version, major << 16 | minor. */
  version: number;
}

const ascii = (b: Uint8Array, at: number, n: number) => String.fromCharCode(...b.subarray(at, at + n));

/** The header of a Linux RISC-V Image, or undefined for anything else (a flat binary). */
export function parseLinuxImageHeader(bytes: Uint8Array): LinuxImageHeader | undefined {
  if (bytes.length < HEADER_SIZE) return undefined;
  if (ascii(bytes, 0x30, 8) !== MAGIC && ascii(bytes, 0x38, 4) !== MAGIC2) return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number, what: string) => {
    const x = v.getBigUint64(at, true);
    if (x > BigInt(Number.MAX_SAFE_INTEGER))
      throw new BootImageError(`Linux Image header: implausible ${what} 0x${x.toString(16)}`);
    return Number(x);
  };
  return {
    textOffset: u64(0x08, 'text_offset'),
    imageSize: u64(0x10, 'image_size'),
    flags: u64(0x18, 'flags'),
    version: v.getUint32(0x20, true),
  };
}

/** Copies `bytes` to RAM at `addr`; returns the end address. */
export function loadRaw(ram: GuestRam, bytes: Uint8Array, addr: number, what = 'image'): { end: number } {
  const len = bytes.length;
  if (len > ram.size) {
    throw new BootImageError(`${what} of ${len} bytes is larger than RAM (${ram.size} bytes, ${ramRange(ram)})`);
  }
  const off = ram.offsetOf(addr, len);
  if (off < 0) {
    throw new BootImageError(
      `${what} of ${len} bytes at 0x${(addr >>> 0).toString(16)} does not fit in RAM ${ramRange(ram)}`,
    );
  }
  ram.bytes.set(bytes, off);
  ram.noteWriteRange(off, len);
  return { end: addr + len };
}
