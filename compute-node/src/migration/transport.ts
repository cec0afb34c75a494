// One side's NATS endpoint for a migration. Under the migration's subject prefix:
//   <prefix>.data      source → destination (data and the source's control frames)
//   <prefix>.ctl       destination → source (credits, NACKs, results)
//   <prefix>.progress  progress events (JSON), for the agent, the API and the dashboard
// Frames are checked here (wire.ts): those of another migration or that fail authentication are
// dropped and counted, and so are control frames whose sequence number is not new (replays).
// Data frames go to the receive window, which knows which sequence numbers are old.
import type { NatsConnection, Subscription } from 'nats';
import { frameBufferOf, HEADER_SIZE, isDataType, ROOM_AFTER, ROOM_BEFORE, type Channel, type Frame } from './wire.js';
import { emptyRejectCounters, MigrationError, type RejectCounters } from './types.js';

/**
 * Fault injection for tests: sees every frame this endpoint sends ('out') or receives ('in');
 * returning null drops it, returning other bytes replaces it (corruption), undefined passes it.
 */
export type Tap = (dir: 'out' | 'in', frame: Uint8Array) => Uint8Array | null | undefined;

/**
 * What sendInPlace uses of nats.js (2.x) beyond its API: the connection's protocol handler. Given
 * one buffer, sendCommand queues it as is, and the socket gets it without a copy.
 */
interface NatsProtocol {
  sendCommand(cmd: Uint8Array): void;
  noMorePublishing: boolean;
  outMsgs: number;
  outBytes: number;
}

const CRLF = [13, 10] as const;

/** What sizeReceiveBuffers uses of nats.js (2.x)'s protocol parser beyond its API. */
interface NatsParser {
  parse(buf: Uint8Array): void;
  /** The message being gathered across socket reads, and its header (size: payload bytes). */
  msgBuf?: { capacity: number; length: number; grow(n: number): void };
  ma?: { size?: number };
}

const sizedParsers = new WeakSet<object>();

/**
 * nats.js gathers a message longer than one socket read (64 KiB) in a buffer that doubles as it
 * fills: a 512 KiB frame cost about 1.2 MiB of fresh memory and twice its size in copies, and that
 * garbage made the GC run every few frames on the destination, the stream's busiest side. This
 * makes the parser size that buffer to the message once the message starts: one allocation, one
 * copy. It changes the parser class of this nats.js (all its connections: they all gain); false
 * when the internals are not as expected (nothing changed then).
 */
export function sizeReceiveBuffers(nc: NatsConnection): boolean {
  const parser = (nc as unknown as { protocol?: { parser?: NatsParser } }).protocol?.parser;
  const proto = parser ? (Object.getPrototypeOf(parser) as Partial<NatsParser> | null) : null;
  if (!proto || typeof proto.parse !== 'function') return false;
  if (sizedParsers.has(proto)) return true;
  const parse = proto.parse;
  proto.parse = function (this: NatsParser, buf: Uint8Array): void {
    parse.call(this, buf);
    const gathering = this.msgBuf;
    const size = this.ma?.size;
    if (gathering && typeof size === 'number' && typeof gathering.grow === 'function' && gathering.capacity < size)
      gathering.grow(size - gathering.length);
  };
  sizedParsers.add(proto);
  return true;
}

export interface EndpointOptions {
  prefix: string;
  /** Seals and opens this side's frames; its role decides the subjects. */
  channel: Channel;
  tap?: Tap;
}

export class Endpoint {
  readonly rejected: RejectCounters = emptyRejectCounters();
  bytesSent = 0;
  private sub: Subscription | undefined;
  private lastControlSeq = 0;
  private controlSeq = 0;
  private readonly sendSubject: string;
  private readonly recvSubject: string;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: EndpointOptions,
    private readonly onFrame: (f: Frame) => void,
    private readonly onError: (e: MigrationError) => void,
  ) {
    const data = `${opts.prefix}.data`;
    const ctl = `${opts.prefix}.ctl`;
    [this.sendSubject, this.recvSubject] = opts.channel.role === 'source' ? [data, ctl] : [ctl, data];
  }

  static progressSubject(prefix: string): string {
    return `${prefix}.progress`;
  }

  /** Subscribes and waits until the server has the subscription (frames sent after this arrive). */
  async open(): Promise<void> {
    sizeReceiveBuffers(this.nc);
    this.sub = this.nc.subscribe(this.recvSubject, {
      callback: (err, msg) => {
        if (err) return this.onError(new MigrationError('connection', `NATS subscription: ${err.message}`));
        this.receive(msg.data);
      },
    });
    await this.nc.flush();
    // A connection closed for good (not merely reconnecting) ends the migration. The connection
    // outlives many migrations: hold this endpoint weakly, so it (and its machine) can go.
    const self = new WeakRef(this);
    void this.nc.closed().then((err) => self.deref()?.connectionClosed(err));
  }

  private connectionClosed(err: Error | void): void {
    if (!this.closed)
      this.onError(new MigrationError('connection', `NATS connection closed${err ? `: ${err.message}` : ''}`));
  }

  /** Sequence number for this side's next control frame. */
  nextControlSeq(): number {
    return ++this.controlSeq;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    const out = this.opts.tap ? this.opts.tap('out', frame) : undefined;
    if (out === null) return;
    const bytes = out ?? frame;
    try {
      if (!this.sendInPlace(bytes)) this.nc.publish(this.sendSubject, bytes);
      this.bytesSent += bytes.length;
    } catch (e) {
      this.onError(new MigrationError('connection', `NATS publish: ${(e as Error).message}`));
    }
  }

  /**
   * Publishes a frame sealed in a frame buffer (wire.ts) by writing the PUB line and CRLF into the
   * room around it: nats.js's publish() queues line, payload and CRLF as three buffers and copies
   * them into a new one for the socket, an allocation (fresh memory: page faults) and a copy of
   * every 512 KiB frame. False when it cannot (other bytes, nats.js internals not as expected,
   * a case publish() must refuse): then publish() does it.
   */
  private sendInPlace(frame: Uint8Array): boolean {
    const whole = frameBufferOf(frame);
    // The frame must be all of what was sealed there (not a part a test tap cut out): the bytes
    // after it are then free, and so are those before.
    if (
      !whole ||
      frame.byteOffset !== whole.byteOffset ||
      frame.length < HEADER_SIZE ||
      frame.length !== HEADER_SIZE + whole.readUInt32LE(16)
    )
      return false;
    const protocol = (this.nc as unknown as { protocol?: Partial<NatsProtocol> }).protocol;
    if (
      typeof protocol?.sendCommand !== 'function' ||
      typeof protocol.outBytes !== 'number' ||
      typeof protocol.outMsgs !== 'number'
    )
      return false;
    if (protocol.noMorePublishing !== false || this.nc.isClosed() || frame.length > (this.nc.info?.max_payload ?? 0))
      return false;
    const line = `PUB ${this.sendSubject} ${frame.length}\r\n`;
    const lineBytes = Buffer.byteLength(line);
    if (lineBytes > ROOM_BEFORE) return false;
    const message = Buffer.from(frame.buffer, frame.byteOffset - lineBytes, lineBytes + frame.length + ROOM_AFTER);
    message.write(line, 0);
    message.set(CRLF, lineBytes + frame.length);
    protocol.sendCommand(message);
    // What publish() counts, for nc.stats().
    protocol.outMsgs++;
    protocol.outBytes += frame.length;
    return true;
  }

  publishProgress(progress: object): void {
    if (this.closed || this.nc.isClosed()) return;
    try {
      this.nc.publish(Endpoint.progressSubject(this.opts.prefix), JSON.stringify(progress));
    } catch {
      // Progress is best effort; the migration itself reports failures.
    }
  }

  close(): void {
    this.closed = true;
    this.sub?.unsubscribe();
  }

  private receive(data: Uint8Array): void {
    if (this.closed) return;
    const tapped = this.opts.tap ? this.opts.tap('in', data) : undefined;
    if (tapped === null) return;
    const f = this.opts.channel.decode(tapped ?? data);
    if (f === 'forged' || f === 'corrupt') {
      this.rejected[f]++;
      return;
    }
    if (!isDataType(f.type)) {
      if (f.seq <= this.lastControlSeq) {
        this.rejected.replayed++;
        return;
      }
      this.lastControlSeq = f.seq;
    }
    this.onFrame(f);
  }
}
