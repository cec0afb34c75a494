// The migration wire format. Every NATS message between a source and a destination is one
// frame: a fixed header, then a body.
//
//   0  u32  magic "HNMG"            12 u32  sequence number
//   4  u8   format version          16 u32  body length
//   5  u8   message type            20 16B  authentication tag (AES-GCM's, or HMAC-SHA256's first 16 bytes)
//   6  u16  flags                   36 ...  body
//   8  u32  migration tag (from the migration id, so frames of another migration are told apart cheaply)
//
// Data frames (pages, disk blocks, state, end) share one sequence space, 1, 2, 3...: the receiver applies
// them strictly in order, which is what makes gaps (core NATS drops messages for slow
// consumers) and replays visible. Control frames (hello, prepare, credits, results, aborts) count in a
// sequence of their own per direction, so an old one replayed is recognised too.
//
// Every frame is authenticated with the migration's own key (a random 256 bits the gateway makes
// for it and hands both sides), and by default its body is encrypted: AES-256-GCM over the body
// with the header's first 20 bytes as additional data. Without encryption (Flag.Encrypted clear)
// the tag is HMAC-SHA256 over the nonce, those 20 bytes and the body. Either way the nonce is the
// sender's role, the sequence space and the sequence number: the sequence numbers never repeat in
// one migration (resends are the same bytes, not sealed again), so neither does a nonce. The tag
// replaces a checksum: whatever changed a frame, in transit or on purpose, makes it fail.
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export const HEADER_SIZE = 36;
/** What the tag covers of the header (the tag itself is after it). */
const AAD_SIZE = 20;
const TAG_SIZE = 16;
const MAGIC = 0x474d_4e48; // "HNMG" little-endian
export const WIRE_VERSION = 2;
export const KEY_SIZE = 32;

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
  /** The body is AES-256-GCM ciphertext (else plaintext under an HMAC). */
  Encrypted = 2,
}

export const isDataType = (t: number): boolean =>
  t === MsgType.Pages || t === MsgType.Disk || t === MsgType.State || t === MsgType.End;

/** A 32-bit tag of the migration id (collisions only cost a counted, authenticated rejection later). */
export function migrationTag(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32LE(0);
}

export interface Frame {
  type: MsgType;
  flags: number;
  seq: number;
  body: Buffer;
}

/** Why a frame was refused: counted by the endpoints (forged = not for this migration, or not authentic). */
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

export type Role = 'source' | 'destination';

export interface ChannelOptions {
  /** The migration's id (frames carry a tag of it; the keys are derived with it). */
  id: string;
  /** The migration's secret, KEY_SIZE random bytes, the same on both sides. */
  key: Uint8Array;
  /** Which side this is: it seals as this role and opens what the other one sealed. */
  role: Role;
  /** Encrypt what this side sends (else only authenticate it). Default true. */
  encrypt?: boolean;
}

/**
 * Ciphertext is copied into the frame in pieces this big: cipher.update cannot write into a given
 * buffer, and a piece this size is still in the cache when it is copied (one 512 KiB output was
 * a fifth slower).
 */
const SEAL_PIECE = 32 << 10;

/** One side's view of a migration's frames: seals what it sends and checks what it receives. */
export class Channel {
  readonly tag: number;
  readonly role: Role;
  private readonly encryptKey: Buffer;
  private readonly macKey: Buffer;
  private readonly encrypt: boolean;
  private readonly sendRole: number;
  private readonly nonce = Buffer.alloc(12);
  /** The last sequence number sealed per space (data, control): sealing one again would repeat a nonce. */
  private readonly sealed = [0, 0];

  constructor(o: ChannelOptions) {
    if (o.key.length !== KEY_SIZE) throw new Error(`a migration key is ${KEY_SIZE} bytes, not ${o.key.length}`);
    this.tag = migrationTag(o.id);
    // A key per algorithm, and bound to this migration: one key never serves two purposes.
    const derive = (what: string): Buffer =>
      Buffer.from(hkdfSync('sha256', o.key, o.id, `hypernova migration ${what}`, 32));
    this.encryptKey = derive('aes-256-gcm');
    this.macKey = derive('hmac-sha256');
    this.encrypt = o.encrypt ?? true;
    this.role = o.role;
    this.sendRole = o.role === 'source' ? 0 : 1;
  }

  /** Writes the header into `buf` (body already at HEADER_SIZE), protects the frame in place and returns its bytes. */
  seal(buf: Buffer, bodyLength: number, type: MsgType, seq: number, flags = 0): Buffer {
    const space = isDataType(type) ? 0 : 1;
    if (seq <= this.sealed[space]! || seq > 0xffff_ffff)
      throw new Error(`sequence number ${seq} already used (or out of range): its nonce would repeat`);
    this.sealed[space] = seq;
    const f = (flags & ~Flag.Encrypted) | (this.encrypt ? Flag.Encrypted : 0);
    buf.writeUInt32LE(MAGIC, 0);
    buf.writeUInt8(WIRE_VERSION, 4);
    buf.writeUInt8(type, 5);
    buf.writeUInt16LE(f, 6);
    buf.writeUInt32LE(this.tag >>> 0, 8);
    buf.writeUInt32LE(seq, 12);
    buf.writeUInt32LE(bodyLength, 16);
    const frame = buf.subarray(0, HEADER_SIZE + bodyLength);
    const nonce = this.nonceFor(this.sendRole, space, seq);
    const aad = frame.subarray(0, AAD_SIZE);
    if (this.encrypt) {
      const c = createCipheriv('aes-256-gcm', this.encryptKey, nonce);
      c.setAAD(aad);
      for (let at = HEADER_SIZE; at < frame.length; at += SEAL_PIECE)
        c.update(frame.subarray(at, Math.min(frame.length, at + SEAL_PIECE))).copy(frame, at);
      c.final();
      c.getAuthTag().copy(frame, AAD_SIZE);
    } else {
      this.mac(nonce, aad, frame.subarray(HEADER_SIZE)).copy(frame, AAD_SIZE, 0, TAG_SIZE);
    }
    return frame;
  }

  /** A whole frame from a body held elsewhere (control messages, state). */
  encode(type: MsgType, seq: number, body: Uint8Array = new Uint8Array(0), flags = 0): Buffer {
    const buf = frameBuffer(body.length);
    buf.set(body, HEADER_SIZE);
    return this.seal(buf, body.length, type, seq, flags);
  }

  encodeJson(type: MsgType, seq: number, value: unknown): Buffer {
    return this.encode(type, seq, Buffer.from(JSON.stringify(value), 'utf8'));
  }

  /** Checks a frame the other side sent and returns it with its plaintext body; never throws. */
  decode(data: Uint8Array): Frame | Reject {
    if (data.length < HEADER_SIZE) return 'corrupt';
    const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (b.readUInt32LE(0) !== MAGIC || b.readUInt8(4) !== WIRE_VERSION) return 'forged';
    if (b.readUInt32LE(8) !== this.tag >>> 0) return 'forged';
    if (HEADER_SIZE + b.readUInt32LE(16) !== b.length) return 'corrupt';
    const type = b.readUInt8(5) as MsgType;
    const flags = b.readUInt16LE(6);
    const seq = b.readUInt32LE(12);
    const nonce = this.nonceFor(1 - this.sendRole, isDataType(type) ? 0 : 1, seq);
    const aad = b.subarray(0, AAD_SIZE);
    const tag = b.subarray(AAD_SIZE, HEADER_SIZE);
    let body = b.subarray(HEADER_SIZE);
    if (flags & Flag.Encrypted) {
      try {
        const d = createDecipheriv('aes-256-gcm', this.encryptKey, nonce, { authTagLength: TAG_SIZE });
        d.setAAD(aad);
        d.setAuthTag(tag);
        body = d.update(body);
        d.final();
      } catch {
        return 'forged';
      }
    } else if (!timingSafeEqual(this.mac(nonce, aad, body).subarray(0, TAG_SIZE), tag)) {
      return 'forged';
    }
    return { type, flags: flags & ~Flag.Encrypted, seq, body };
  }

  private nonceFor(role: number, space: number, seq: number): Buffer {
    this.nonce.writeUInt8(role, 0);
    this.nonce.writeUInt8(space, 1);
    this.nonce.writeUInt32LE(seq, 4);
    return this.nonce;
  }

  private mac(nonce: Buffer, aad: Buffer, body: Buffer): Buffer {
    return createHmac('sha256', this.macKey).update(nonce).update(aad).update(body).digest();
  }
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
export function encodeCredit(ch: Channel, seq: number, acked: number, limit: number): Buffer {
  const body = Buffer.allocUnsafe(8);
  body.writeUInt32LE(acked >>> 0, 0);
  body.writeUInt32LE(limit >>> 0, 4);
  return ch.encode(MsgType.Credit, seq, body);
}

export function decodeCredit(body: Buffer): { acked: number; limit: number } | undefined {
  return body.length === 8 ? { acked: body.readUInt32LE(0), limit: body.readUInt32LE(4) } : undefined;
}

/** Nack: frame `expected` never arrived intact; resend from it. */
export function encodeNack(ch: Channel, seq: number, expected: number): Buffer {
  const body = Buffer.allocUnsafe(4);
  body.writeUInt32LE(expected >>> 0, 0);
  return ch.encode(MsgType.Nack, seq, body);
}

export const decodeNack = (body: Buffer): number | undefined => (body.length === 4 ? body.readUInt32LE(0) : undefined);
