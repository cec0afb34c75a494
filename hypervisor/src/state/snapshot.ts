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
  const off = page * PAGE_SIZE;
  return Buffer.from(ram.bytes.buffer, ram.bytes.byteOffset + off, PAGE_SIZE).equals(ZERO_PAGE);
}

export function encodeSnapshot(header: SnapshotHeader, ram: GuestRam): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const parts: Buffer[] = [];
  const head = Buffer.alloc(16);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(SNAPSHOT_FORMAT_VERSION, 8);
  head.writeUInt32LE(json.length, 12);
  parts.push(head, json);
  const count = Buffer.alloc(4);
  count.writeUInt32LE(ram.pages);
  parts.push(count);
  for (let p = 0; p < ram.pages; p++) {
    if (isZeroPage(ram, p)) continue;
    const index = Buffer.alloc(4);
    index.writeUInt32LE(p);
    parts.push(index, Buffer.from(ram.bytes.buffer, ram.bytes.byteOffset + p * PAGE_SIZE, PAGE_SIZE));
  }
  const end = Buffer.alloc(4);
  end.writeUInt32LE(END);
  parts.push(end);
  const body = Buffer.concat(parts);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body));
  return Buffer.concat([body, crc]);
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
  if (typeof header !== 'object' || header === null || !Array.isArray(header.sections) || typeof header.config !== 'object') {
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

/** Replaces guest RAM with the snapshot's pages; RAM is untouched when the snapshot is bad. */
export function loadSnapshotRam(buf: Uint8Array, ramOffset: number, ram: GuestRam): void {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  checkSnapshotRam(buf, ramOffset, ram.pages);
  ram.bytes.fill(0);
  walkRam(b, ramOffset, ram.pages, (p, at) => ram.bytes.set(b.subarray(at, at + PAGE_SIZE), p * PAGE_SIZE));
}
