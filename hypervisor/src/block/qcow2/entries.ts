// L1 and L2 table entries. They are 64-bit big-endian words; we handle them as two 32-bit
// halves so host offsets (bits 9..55) stay plain numbers without BigInt on the I/O path.

const COPIED_HI = 0x80000000; // bit 63: refcount is exactly one, may write in place
const COMPRESSED_HI = 0x40000000; // bit 62
const ZERO_LO = 0x1; // bit 0 of a standard descriptor (v3): reads as zeroes
const OFFSET_HI = 0x00ffffff; // bits 32..55
const OFFSET_LO = 0xfffffe00; // bits 9..31
const HI = 2 ** 32;

export type L2Kind = 'unallocated' | 'zero' | 'normal' | 'compressed';

export interface L2Entry {
  kind: L2Kind;
  /** normal, zero: host cluster offset (0 when a zero cluster has no preallocation); compressed: byte offset of the data. */
  host: number;
  copied: boolean;
  /** compressed: bytes from (host & ~511) that the data may span (whole 512-byte sectors). */
  compressedBytes: number;
}

export interface L1Entry {
  l2Offset: number;
  copied: boolean;
}

/** Why an entry cannot be used, or undefined when it is well-formed. */
export type EntryProblem = string | undefined;

export function readL1(v: DataView, index: number): L1Entry & { problem: EntryProblem } {
  const hi = v.getUint32(index * 8);
  const lo = v.getUint32(index * 8 + 4);
  const l2Offset = (hi & OFFSET_HI) * HI + ((lo & OFFSET_LO) >>> 0);
  let problem: EntryProblem;
  if (lo & 0x1ff) problem = `L1 entry ${index} points to an unaligned L2 table (reserved bits 0..8 set)`;
  else if (hi & 0x7f000000) problem = `L1 entry ${index} has reserved bits 56..62 set`;
  return { l2Offset, copied: (hi & COPIED_HI) !== 0, problem };
}

export function writeL1(v: DataView, index: number, l2Offset: number, copied: boolean): void {
  v.setUint32(index * 8, (copied ? COPIED_HI : 0) | Math.floor(l2Offset / HI));
  v.setUint32(index * 8 + 4, l2Offset % HI);
}

export function readL2(
  v: DataView,
  index: number,
  clusterBits: number,
  version: number,
): L2Entry & { problem: EntryProblem } {
  const hi = v.getUint32(index * 8);
  const lo = v.getUint32(index * 8 + 4);
  const copied = (hi & COPIED_HI) !== 0;
  if (hi & COMPRESSED_HI) {
    // x = 62 - (cluster_bits - 8) low bits hold the byte offset, the bits up to 61 the extra sector count.
    const x = 70 - clusterBits;
    const host = (hi & ((1 << (x - 32)) - 1)) * HI + (lo >>> 0);
    const extraSectors = (hi >>> (x - 32)) & ((1 << (62 - x)) - 1);
    const problem = copied ? 'compressed cluster has the copied flag set' : undefined;
    return { kind: 'compressed', host, copied, compressedBytes: (extraSectors + 1) * 512, problem };
  }
  const host = (hi & OFFSET_HI) * HI + ((lo & OFFSET_LO) >>> 0);
  const zero = (lo & ZERO_LO) !== 0;
  let problem: EntryProblem;
  if (lo & 0x1fe) problem = `L2 entry points to an unaligned cluster (reserved bits 1..8 set)`;
  else if (zero && version < 3) problem = 'zero cluster flag in a version 2 image';
  else if (host === 0 && copied && !zero)
    problem = 'L2 entry maps host offset 0 (only valid with an external data file)';
  const kind: L2Kind = zero ? 'zero' : host === 0 ? 'unallocated' : 'normal';
  return { kind, host, copied, compressedBytes: 0, problem };
}

/** Writes a standard descriptor: host may be 0 only for an unallocated or plain zero cluster. */
export function writeL2(
  v: DataView,
  index: number,
  host: number,
  flags: { copied?: boolean; zero?: boolean } = {},
): void {
  v.setUint32(index * 8, (flags.copied ? COPIED_HI : 0) | Math.floor(host / HI));
  v.setUint32(index * 8 + 4, (host % HI) | (flags.zero ? ZERO_LO : 0));
}

/** The raw 64-bit word, for messages in the style of qemu-img check. */
export function rawEntryHex(v: DataView, index: number): string {
  return v
    .getBigUint64(index * 8)
    .toString(16)
    .padStart(16, '0');
}
