// An in-process L2 link: a learning Ethernet switch connecting any number of NetBackends in one
// process, so VMs in the same process can talk. It learns which port each source MAC lives
// behind, sends unicast frames to that port only, and floods broadcast, multicast and unknown
// destinations to every other port, as a hardware switch does.
//
// Delivery is synchronous. A virtio-net device that gets a frame while it is itself busy
// (a reply to what it is sending) handles it right after, so re-entry is safe.
import { ETH_HEADER, type NetBackend } from './backend.js';

export class L2Port implements NetBackend {
  private receiver: ((frame: Uint8Array) => void) | undefined;
  /** Frames this port sent into the switch / was given by it. */
  sent = 0;
  received = 0;

  constructor(private readonly sw: L2Switch) {}

  send(frame: Uint8Array): void {
    this.sent++;
    this.sw.forward(this, frame);
  }

  onReceive(cb: (frame: Uint8Array) => void): void {
    this.receiver = cb;
  }

  /** Unplugs the port: it gets no more frames and its learnt addresses are forgotten. */
  disconnect(): void {
    this.sw.remove(this);
  }

  deliver(frame: Uint8Array): void {
    this.received++;
    this.receiver?.(frame);
  }
}

export class L2Switch {
  private readonly ports = new Set<L2Port>();
  /** Learnt MAC (as a 48-bit number) → port. */
  private readonly fdb = new Map<number, L2Port>();

  /** A new port, to give to one NIC as its backend. */
  connect(): L2Port {
    const p = new L2Port(this);
    this.ports.add(p);
    return p;
  }

  get portCount(): number {
    return this.ports.size;
  }

  remove(port: L2Port): void {
    this.ports.delete(port);
    for (const [mac, p] of this.fdb) if (p === port) this.fdb.delete(mac);
  }

  forward(from: L2Port, frame: Uint8Array): void {
    if (frame.length < ETH_HEADER || !this.ports.has(from)) return;
    const multicast = (frame[0]! & 1) !== 0;
    if (!(frame[6]! & 1)) this.fdb.set(macAt(frame, 6), from); // only unicast sources are learnt
    const to = multicast ? undefined : this.fdb.get(macAt(frame, 0));
    if (to) {
      if (to !== from) to.deliver(frame);
      return;
    }
    for (const p of [...this.ports]) if (p !== from) p.deliver(frame);
  }
}

function macAt(f: Uint8Array, at: number): number {
  const hi = (f[at]! << 8) | f[at + 1]!;
  const lo = ((f[at + 2]! << 24) | (f[at + 3]! << 16) | (f[at + 4]! << 8) | f[at + 5]!) >>> 0;
  return hi * 2 ** 32 + lo;
}
