// The machine snapshot file: a header with the format version and machine config, one
// versioned section per device (CPU included), then RAM with zero pages left out, and a CRC32
// of everything before it. Layout:
//   "HNVMSNAP" | u32 format version | u32 header length | header JSON
//   | u32 page count | (u32 page index | 4096 bytes)* | u32 0xffffffff | u32 crc32
import { crc32 } from 'node:zlib';
import type { GuestRam } from '../bus/ram.js';
import { PAGE_SIZE } from '../bus/ram.js';
import type { MachineConfig } from '../machine/config.js';
import { StateError, type StateSection } from './section.js';

const MAGIC = Buffer.from('HNVMSNAP', 'latin1');
export const SNAPSHOT_FORMAT_VERSION = 1;
const END = 0xffff_ffff;

export interface SnapshotHeader {
  config: MachineConfig;
  sections: StateSection[];
}

const ZERO_PAGE = Buffer.alloc(PAGE_SIZE);

/** Whether a RAM page holds only zero bytes (such pages are not stored or sent). */
export function isZeroPage(ram: GuestRam, page: number): boolean {
  // A page never written is not read at all: reading untouched RAM costs the host a page fault.
  if (ram.isKnownZero(page)) return true;
  const off = page * PAGE_SIZE;
  return Buffer.from(ram.bytes.buffer, ram.bytes.byteOffset + off, PAGE_SIZE).equals(ZERO_PAGE);
}

export function encodeSnapshot(header: SnapshotHeader, ram: GuestRam): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const stored: number[] = [];
  for (let p = 0; p < ram.pages; p++) if (!isZeroPage(ram, p)) stored.push(p);
  // One buffer, written once and checksummed once.
  const ramOffset = 16 + json.length;
  const out = Buffer.allocUnsafe(ramOffset + 4 + stored.length * (4 + PAGE_SIZE) + 4 + 4);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
  out.writeUInt32LE(json.length, 12);
  json.copy(out, 16);
  let at = out.writeUInt32LE(ram.pages, ramOffset);
  const bytes = ram.bytes;
  for (const p of stored) {
    at = out.writeUInt32LE(p, at);
    out.set(bytes.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE), at);
    at += PAGE_SIZE;
  }
  at = out.writeUInt32LE(END, at);
  out.writeUInt32LE(crc32(out.subarray(0, at)), at);
  return out;
}

/** Reads and checks a snapshot's header; the RAM part is checked by loadSnapshotRam. */
export function decodeSnapshotHeader(buf: Uint8Array): { header: SnapshotHeader; ramOffset: number } {
  return decodeHeader(buf, MAGIC, 'snapshot');
}

// CPU and device state without RAM, as a live migration sends it at switch-over (RAM travels
// page by page before): the snapshot layout with its own magic and no RAM part.
//   "HNVMSTAT" | u32 format version | u32 header length | header JSON | u32 crc32
const STATE_MAGIC = Buffer.from('HNVMSTAT', 'latin1');

export function encodeDeviceState(header: SnapshotHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const body = Buffer.alloc(16 + json.length + 4);
  STATE_MAGIC.copy(body, 0);
  body.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
  body.writeUInt32LE(json.length, 12);
  json.copy(body, 16);
  body.writeUInt32LE(crc32(body.subarray(0, body.length - 4)), body.length - 4);
  return body;
}

export function decodeDeviceState(buf: Uint8Array): SnapshotHeader {
  const { header, ramOffset } = decodeHeader(buf, STATE_MAGIC, 'device state');
  if (ramOffset + 4 !== buf.byteLength) throw new StateError('device state has trailing data');
  return header;
}

function decodeHeader(buf: Uint8Array, magic: Buffer, what: string): { header: SnapshotHeader; ramOffset: number } {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 20 || !b.subarray(0, 8).equals(magic)) throw new StateError(`not a Hypernova ${what} (bad magic)`);
  const version = b.readUInt32LE(8);
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw new StateError(`${what} format version ${version} is not supported (expected ${SNAPSHOT_FORMAT_VERSION})`);
  }
  if (crc32(b.subarray(0, b.length - 4)) !== b.readUInt32LE(b.length - 4)) {
    throw new StateError(`${what} is corrupt or truncated (checksum mismatch)`);
  }
  const len = b.readUInt32LE(12);
  if (16 + len + 4 > b.length) throw new StateError(`${what} is truncated (header)`);
  let header: SnapshotHeader;
  try {
    header = JSON.parse(b.subarray(16, 16 + len).toString('utf8')) as SnapshotHeader;
  } catch {
    throw new StateError(`${what} header is not valid JSON`);
  }
  if (
    typeof header !== 'object' ||
    header === null ||
    !Array.isArray(header.sections) ||
    typeof header.config !== 'object' ||
    header.config === null
  ) {
    throw new StateError(`${what} header is malformed`);
  }
  return { header, ramOffset: 16 + len };
}

/** Walks the RAM part: calls `page` for each stored page. Throws on any structural problem. */
function walkRam(b: Buffer, ramOffset: number, ramPages: number, page: (index: number, at: number) => void): void {
  const limit = b.length - 4;
  let at = ramOffset;
  const need = (n: number): void => {
    if (at + n > limit) throw new StateError('snapshot is truncated (RAM)');
  };
  need(4);
  const pages = b.readUInt32LE(at);
  at += 4;
  if (pages !== ramPages) throw new StateError(`snapshot RAM has ${pages} pages, this machine has ${ramPages}`);
  for (;;) {
    need(4);
    const p = b.readUInt32LE(at);
    at += 4;
    if (p === END) break;
    if (p >= ramPages) throw new StateError(`snapshot RAM page ${p} is outside RAM`);
    need(PAGE_SIZE);
    page(p, at);
    at += PAGE_SIZE;
  }
  if (at !== limit) throw new StateError('snapshot has trailing data after RAM');
}

/** Checks the RAM part of a snapshot for a machine with `ramPages` pages, without loading it. */
export function checkSnapshotRam(buf: Uint8Array, ramOffset: number, ramPages: number): void {
  walkRam(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), ramOffset, ramPages, () => {});
}

/**
 * Replaces guest RAM with the snapshot's pages; RAM is untouched when the snapshot is bad. Pages
 * the snapshot leaves out are zeroed, except those already known to be zero, which are not
 * touched at all (in fresh RAM most are: the host then never has to provide them).
 */
export function loadSnapshotRam(buf: Uint8Array, ramOffset: number, ram: GuestRam): void {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const stored: number[] = [];
  const at: number[] = [];
  walkRam(b, ramOffset, ram.pages, (p, pos) => {
    stored.push(p);
    at.push(pos);
  });
  const keep = new Uint8Array(ram.pages);
  for (const p of stored) keep[p] = 1;
  ram.zeroPagesExcept(keep);
  const bytes = ram.bytes;
  for (let i = 0; i < stored.length; i++) bytes.set(b.subarray(at[i]!, at[i]! + PAGE_SIZE), stored[i]! * PAGE_SIZE);
}
