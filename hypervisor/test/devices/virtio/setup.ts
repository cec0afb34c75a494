// Shared test wiring: a device in a virtio-mmio slot over a small guest RAM, a fake driver,
// and request helpers for virtio-blk.
import { GuestRam } from '../../../src/bus/ram.js';
import type { VirtioDevice } from '../../../src/devices/virtio/device.js';
import { VirtioMmio } from '../../../src/devices/virtio/mmio.js';
import { BlkReq } from '../../../src/devices/virtio/blk/blk.js';
import { FakeIrq } from '../fakes.js';
import { FakeDriver, GuestMem, type Buf, type VirtqDriver } from './driver.js';

export const RAM_BASE = 0x8000_0000;

export function plug(device?: VirtioDevice, ramBytes = 1 << 20) {
  const ram = new GuestRam(RAM_BASE, ramBytes);
  const irq = new FakeIrq();
  const mmio = new VirtioMmio(ram, irq, device, 'virtio_mmio@10001000');
  const mem = new GuestMem(ram);
  const drv = new FakeDriver(mmio, mem);
  return { ram, irq, mmio, mem, drv };
}

export interface BlkResult {
  status: number;
  /** Bytes the device returned in the writable data buffers. */
  data: Uint8Array;
  usedLen: number;
  /** Where the request's pieces were, for dirty-log checks. */
  inBufs: Buf[];
  statusAddr: number;
}

export interface BlkRequestOptions {
  /** Data for OUT / DISCARD / WRITE_ZEROES. */
  out?: Uint8Array;
  /** Bytes to read back (IN, GET_ID). */
  inLen?: number;
  /** Split the data into this many descriptors. */
  segments?: number;
  /** Where to put the read buffer (default: allocated). */
  inAddr?: number;
}

/** Builds one virtio-blk request as Linux's virtio_blk does (header, data, status), kicks and collects it. */
export function blkRequest(vq: VirtqDriver, type: number, sector: number, opts: BlkRequestOptions = {}): BlkResult {
  const mem = vq.mem;
  const hdr = new Uint8Array(16);
  const hv = new DataView(hdr.buffer);
  hv.setUint32(0, type, true);
  hv.setUint32(8, sector % 2 ** 32, true);
  hv.setUint32(12, Math.floor(sector / 2 ** 32), true);
  const out: Buf[] = [{ addr: mem.put(hdr), len: 16 }];
  const segs = opts.segments ?? 1;
  if (opts.out) {
    for (const piece of split(opts.out.length, segs)) {
      out.push({ addr: mem.put(opts.out.subarray(piece.at, piece.at + piece.len)), len: piece.len });
    }
  }
  const inBufs: Buf[] = [];
  const inLen = opts.inLen ?? 0;
  if (inLen > 0) {
    const base = opts.inAddr ?? mem.alloc(inLen, 16);
    for (const piece of split(inLen, segs)) inBufs.push({ addr: base + piece.at, len: piece.len });
  }
  const statusAddr = mem.alloc(1, 1);
  mem.write(statusAddr, Uint8Array.of(0xff));
  vq.add(out, [...inBufs, { addr: statusAddr, len: 1 }]);
  vq.kick();
  const used = vq.getBuf();
  if (!used) throw new Error('request not completed');
  const data = new Uint8Array(inLen);
  let at = 0;
  for (const b of inBufs) {
    data.set(mem.read(b.addr, b.len), at);
    at += b.len;
  }
  return { status: mem.read(statusAddr, 1)[0]!, data, usedLen: used.len, inBufs, statusAddr };
}

function split(len: number, parts: number): Array<{ at: number; len: number }> {
  const out: Array<{ at: number; len: number }> = [];
  const step = Math.ceil(len / parts);
  for (let at = 0; at < len; at += step) out.push({ at, len: Math.min(step, len - at) });
  return out;
}

/** A discard / write-zeroes segment. */
export function dwzSegment(sector: number, count: number, flags = 0): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint32(0, sector, true);
  v.setUint32(8, count, true);
  v.setUint32(12, flags, true);
  return b;
}

export const pattern = (len: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed * 13 + (i >> 9)) & 0xff);

export { BlkReq };
