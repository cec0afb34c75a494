// Ethernet frames between processes: a virtio-net backend over a unix stream socket, and the
// hub that connects such sockets through a learning L2 switch.
//
// Wire format (QEMU's -netdev stream/socket framing, so a QEMU VM can sit on the same wire):
// every frame is a 4-byte big-endian length followed by the frame, from the destination MAC
// on, without FCS or virtio-net header.
//
// Topologies: any number of VMs `--net mac=..,link=unix:HUB` on one `hypernova vm net-hub
// unix:HUB`; or two VMs back to back, one with `link=unix:P,listen`, the other `link=unix:P`.
// A connecting side retries until the other end is up and reconnects if it goes away; frames
// sent while there is no peer are dropped, as on an unplugged cable.
import { createConnection, type Server, type Socket } from 'node:net';
import { L2Switch, type L2Port, type NetBackend } from '@hypernova/hypervisor';
import { closeUnix, listenUnix } from './unix-socket.js';

/** Frames larger than this end the connection: no Ethernet frame is (jumbo frames included). */
export const MAX_FRAME = 65536;
/** Bytes queued to a slow peer beyond which frames are dropped instead of buffered. */
const MAX_QUEUED = 1 << 20;
const RECONNECT_MS = 200;

/** Reassembles length-prefixed frames from a byte stream. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);

  constructor(
    private readonly onFrame: (frame: Uint8Array) => void,
    private readonly onError: (msg: string) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len > MAX_FRAME) {
        this.buf = Buffer.alloc(0);
        this.onError(`frame of ${len} bytes is larger than ${MAX_FRAME}`);
        return;
      }
      if (this.buf.length < 4 + len) break;
      this.onFrame(this.buf.subarray(4, 4 + len));
      this.buf = this.buf.subarray(4 + len);
    }
  }
}

/** Writes one frame to a socket, or drops it when the peer is not keeping up. */
export function writeFrame(sock: Socket, frame: Uint8Array): boolean {
  if (sock.writableLength > MAX_QUEUED || !sock.writable) return false;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(frame.length);
  sock.write(Buffer.concat([head, frame]));
  return true;
}

/** A NIC's backend over a unix stream socket (to a hub, or to one peer VM). */
export class SocketNetBackend implements NetBackend {
  private receiver: ((frame: Uint8Array) => void) | undefined;
  private sock: Socket | undefined;
  private server: Server | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  dropped = 0;

  private constructor(readonly path: string) {}

  /** Connects to `path`, retrying until it answers and after it goes away. */
  static connect(path: string): SocketNetBackend {
    const b = new SocketNetBackend(path);
    b.dial();
    return b;
  }

  /** Listens on `path` for one peer (a newer connection replaces the older). */
  static async listen(path: string): Promise<SocketNetBackend> {
    const b = new SocketNetBackend(path);
    b.server = await listenUnix(path, 'network socket', (s) => {
      b.sock?.destroy();
      b.adopt(s);
    });
    b.server.unref();
    return b;
  }

  get connected(): boolean {
    return this.sock !== undefined && !this.sock.connecting;
  }

  send(frame: Uint8Array): void {
    if (!this.connected || !writeFrame(this.sock!, frame)) this.dropped++;
  }

  onReceive(cb: (frame: Uint8Array) => void): void {
    this.receiver = cb;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.sock?.destroy();
    this.sock = undefined;
    if (this.server) closeUnix(this.server, this.path);
  }

  private dial(): void {
    if (this.closed) return;
    const s = createConnection(this.path);
    s.once('error', () => {}); // 'close' follows and schedules the retry
    this.adopt(s);
  }

  private adopt(s: Socket): void {
    this.sock = s;
    // The link must not keep a finished VM process alive.
    s.unref();
    const reader = new FrameReader(
      (f) => this.receiver?.(f),
      () => s.destroy(),
    );
    s.on('data', (d: Buffer) => reader.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      if (this.sock === s) this.sock = undefined;
      if (!this.server && !this.closed) {
        this.retry = setTimeout(() => this.dial(), RECONNECT_MS);
        this.retry.unref();
      }
    });
  }
}

/** `hypernova vm net-hub`: a learning switch whose ports are socket connections. */
export class NetHub {
  private readonly sw = new L2Switch();
  private readonly ports = new Map<Socket, L2Port>();

  private constructor(
    readonly path: string,
    private server?: Server,
  ) {}

  static async listen(path: string): Promise<NetHub> {
    const hub = new NetHub(path);
    hub.server = await listenUnix(path, 'network hub socket', (s) => hub.plug(s));
    return hub;
  }

  get portCount(): number {
    return this.ports.size;
  }

  close(): void {
    for (const s of this.ports.keys()) s.destroy();
    if (this.server) closeUnix(this.server, this.path);
  }

  private plug(s: Socket): void {
    const port = this.sw.connect();
    this.ports.set(s, port);
    port.onReceive((f) => writeFrame(s, f));
    const reader = new FrameReader(
      (f) => port.send(f),
      () => s.destroy(),
    );
    s.on('data', (d: Buffer) => reader.push(d));
    s.on('error', () => {});
    s.on('close', () => {
      port.disconnect();
      this.ports.delete(s);
    });
  }
}

/** A NIC with nothing plugged in: what it sends is lost, nothing arrives. */
export class UnpluggedNetBackend implements NetBackend {
  send(): void {}
  onReceive(): void {}
  close(): void {}
}
