// The migration wire format. Every NATS message between a source and a destination is one
// frame: a fixed header, then a body.
//
//   0  u32  magic "HNMG"            12 u32  sequence number
//   4  u8   format version          16 u32  body length
//   5  u8   message type            20 u32  crc32 of header (this field zero) + body
//   6  u16  flags                   24 ...  body
//   8  u32  migration tag (from the migration id, so frames of another migration are told apart)
//
// Data frames (pages, disk blocks, state, end) share one sequence space, 1, 2, 3...: the receiver applies
// them strictly in order, which is what makes gaps (core NATS drops messages for slow
// consumers) and replays visible. Control frames (hello, prepare, credits, results, aborts) count in a
// sequence of their own per direction, so an old one replayed is recognised too.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const HEADER_SIZE = 24;
const MAGIC = 0x474d_4e48; // "HNMG" little-endian
export const WIRE_VERSION = 1;

export const enum MsgType {
  // source → destination, data (flow-controlled, in sequence)
  Pages = 1,
  State = 2,
  End = 3,
  /** Disk blocks (block migration, disks.ts). */
  Disk = 4,
  // source → destination, control
  Hello = 16,
  Abort = 17,
  Bye = 18,
  /** The source is about to pause the guest: the destination readies itself and says Prepared. */
  Prepare = 19,
  // destination → source, control
  Ready = 32,
  Credit = 33,
  Nack = 34,
  Result = 35,
  Refuse = 36,
  Prepared = 37,
}

export const enum Flag {
  /** The body is raw deflate of the records (pages.ts, disks.ts). */
  Deflated = 1,
}

export const isDataType = (t: number): boolean =>
  t === MsgType.Pages || t === MsgType.Disk || t === MsgType.State || t === MsgType.End;

/** A 32-bit tag of the migration id (collisions only cost a counted, checksummed rejection later). */
export function migrationTag(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32LE(0);
}

export interface Frame {
  type: MsgType;
  flags: number;
  seq: number;
  body: Buffer;
}

/** Why a frame was refused: counted by the endpoints (forged = not for this migration). */
export type Reject = 'forged' | 'corrupt';

/**
 * Bytes a frame buffer keeps free before and after the frame, for the transport's own framing
 * (NATS: the PUB line before, CRLF after), so the transport can send frame and framing as one
 * buffer instead of copying them together (transport.ts).
 */
export const ROOM_BEFORE = 128;
export const ROOM_AFTER = 2;
/** The memory of frame buffers: only there may the transport write around a frame. */
const withRoom = new WeakSet<ArrayBufferLike>();

/** A buffer for a frame whose body will be written in place after the header. */
export function frameBuffer(bodyCapacity: number): Buffer {
  // Memory of its own, never shared with other buffers (allocUnsafe pools small ones): the
  // transport writes into the room around the frame.
  const whole = Buffer.allocUnsafeSlow(ROOM_BEFORE + HEADER_SIZE + bodyCapacity + ROOM_AFTER);
  withRoom.add(whole.buffer);
  return whole.subarray(ROOM_BEFORE, ROOM_BEFORE + HEADER_SIZE + bodyCapacity);
}

/** The buffer frameBuffer returned that `frame` (sealed in it) lies in; undefined for other bytes. */
export function frameBufferOf(frame: Uint8Array): Buffer | undefined {
  const mem = frame.buffer;
  if (!withRoom.has(mem)) return undefined;
  return Buffer.from(mem, ROOM_BEFORE, mem.byteLength - ROOM_BEFORE - ROOM_AFTER);
}

/** Writes the header into `buf` (body already at HEADER_SIZE) and returns the frame's bytes. */
export function seal(buf: Buffer, bodyLength: number, type: MsgType, tag: number, seq: number, flags = 0): Buffer {
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt8(WIRE_VERSION, 4);
  buf.writeUInt8(type, 5);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(tag >>> 0, 8);
  buf.writeUInt32LE(seq >>> 0, 12);
  buf.writeUInt32LE(bodyLength, 16);
  buf.writeUInt32LE(0, 20);
  const frame = buf.subarray(0, HEADER_SIZE + bodyLength);
  frame.writeUInt32LE(crc32(frame), 20);
  return frame;
}

/** A whole frame from a body held elsewhere (control messages, state). */
export function encode(
  type: MsgType,
  tag: number,
  seq: number,
  body: Uint8Array = new Uint8Array(0),
  flags = 0,
): Buffer {
  const buf = frameBuffer(body.length);
  buf.set(body, HEADER_SIZE);
  return seal(buf, body.length, type, tag, seq, flags);
}

export const encodeJson = (type: MsgType, tag: number, seq: number, value: unknown): Buffer =>
  encode(type, tag, seq, Buffer.from(JSON.stringify(value), 'utf8'));

/** Checks a received frame; never throws. */
export function decode(data: Uint8Array, tag: number): Frame | Reject {
  if (data.length < HEADER_SIZE) return 'corrupt';
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.readUInt32LE(0) !== MAGIC || b.readUInt8(4) !== WIRE_VERSION) return 'forged';
  if (b.readUInt32LE(8) !== tag >>> 0) return 'forged';
  const length = b.readUInt32LE(16);
  if (HEADER_SIZE + length !== b.length) return 'corrupt';
  const sum = b.readUInt32LE(20);
  // The checksum covers the header with its own field zeroed: check on a copy of the header.
  const head = Buffer.from(b.subarray(0, HEADER_SIZE));
  head.writeUInt32LE(0, 20);
  if (crc32(b.subarray(HEADER_SIZE), crc32(head)) !== sum) return 'corrupt';
  return {
    type: b.readUInt8(5) as MsgType,
    flags: b.readUInt16LE(6),
    seq: b.readUInt32LE(12),
    body: b.subarray(HEADER_SIZE),
  };
}

export function parseJson<T>(body: Buffer): T | undefined {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

// --- control bodies ---

/** Hello: what the source offers; the destination checks it against its machine. */
export interface HelloBody {
  id: string;
  config: Record<string, unknown>;
  ramBytes: number;
  pageSize: number;
  /** Whether End carries a RAM digest to check (test mode). */
  digest: boolean;
  /** Virtual sizes of the disks that come along (block migration), in slot order; absent: none. */
  disks?: number[];
  /** Virtual sizes of the disks both nodes open from shared storage (not copied), in slot order; absent: none. */
  sharedDisks?: number[];
}

/** Ready: the destination accepts; its first credit. */
export interface ReadyBody {
  limit: number;
  window: number;
}

/** End: the last data frame. */
export interface EndBody {
  /** sha256 of guest RAM at the pause, hex, when Hello asked for it. */
  digest?: string;
  rounds: number;
}

export interface ResultBody {
  committed: boolean;
  error?: string;
  /** Wall-clock ms (clock.ts wallNow) at which the destination resumed the guest. */
  resumedAt?: number;
}

/** Credit: everything up to `acked` is applied; the sender may send up to `limit`. */
export function encodeCredit(tag: number, seq: number, acked: number, limit: number): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeUInt32LE(acked >>> 0, 0);
  body.writeUInt32LE(limit >>> 0, 4);
  return encode(MsgType.Credit, tag, seq, body);
}

export function decodeCredit(body: Buffer): { acked: number; limit: number } | undefined {
  return body.length === 8 ? { acked: body.readUInt32LE(0), limit: body.readUInt32LE(4) } : undefined;
}

/** Nack: frame `expected` never arrived intact; resend from it. */
export function encodeNack(tag: number, seq: number, expected: number): Buffer {
  const body = Buffer.allocUnsafe(4);
  body.writeUInt32LE(expected >>> 0, 0);
  return encode(MsgType.Nack, tag, seq, body);
}

export const decodeNack = (body: Buffer): number | undefined => (body.length === 4 ? body.readUInt32LE(0) : undefined);
