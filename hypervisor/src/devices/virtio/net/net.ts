// virtio-net (device ID 1): one receive and one transmit queue, a MAC address from the VM
// config, link status, and frames to and from a pluggable NetBackend.
//
// No offloads are offered, so the 12-byte virtio_net_hdr (virtio 1.x: num_buffers always
// present) is all zeroes on receive but num_buffers = 1, and ignored on transmit. Received
// frames wait in the device (bounded; dropped when full, as a NIC's FIFO does) until the guest
// posts receive buffers; those waiting frames are the device's only state.
import type { AccessWidth } from '../../../bus/device.js';
import type { StateSection } from '../../../state/section.js';
import { bit, DeviceId } from '../constants.js';
import { readLe, type VirtioDevice, type VirtioHost } from '../device.js';
import { VirtqueueError, type Virtqueue } from '../queue.js';
import { formatMac, parseMac, type NetBackend } from './backend.js';
import { parseNetState, VIRTIO_NET_STATE_VERSION, type VirtioNetState } from './persist.js';

export const NetFeature = { MAC: 5, STATUS: 16 } as const;
export const VIRTIO_NET_S_LINK_UP = 1;
export const NET_HDR_SIZE = 12;
export const NET_QUEUE_SIZE = 256;
export const NET_RX_QUEUE = 0;
export const NET_TX_QUEUE = 1;
/** Frames held for the guest when it has no receive buffers posted. */
export const NET_RX_PENDING_DEFAULT = 256;

export interface VirtioNetOptions {
  mac: string | Uint8Array;
  backend: NetBackend;
  /** Received frames kept while the guest posts no buffers (default 256). */
  rxPendingLimit?: number;
}

export interface NetStats {
  rxFrames: number;
  /** Frames lost: device queue full, link down, or a receive buffer too small. */
  rxDropped: number;
  txFrames: number;
  txDropped: number;
}

export class VirtioNet implements VirtioDevice {
  readonly deviceId = DeviceId.NET;
  readonly kind = 'virtio-net';
  readonly features = bit(NetFeature.MAC) | bit(NetFeature.STATUS);
  readonly queueSizes = [NET_QUEUE_SIZE, NET_QUEUE_SIZE];
  readonly mac: Uint8Array;
  readonly rxPendingLimit: number;
  readonly backend: NetBackend;
  #rxPending: Uint8Array[] = [];
  private linkUp = true;
  readonly stats: NetStats = { rxFrames: 0, rxDropped: 0, txFrames: 0, txDropped: 0 };
  private host: VirtioHost | undefined;

  constructor(opts: VirtioNetOptions) {
    this.mac = parseMac(opts.mac);
    this.rxPendingLimit = opts.rxPendingLimit ?? NET_RX_PENDING_DEFAULT;
    this.backend = opts.backend;
    this.backend.onReceive((frame) => this.receive(frame));
  }

  attach(host: VirtioHost): void {
    this.host = host;
  }

  /** Frames received from the backend, not yet in a guest buffer. */
  get rxPending(): readonly Uint8Array[] {
    return this.#rxPending;
  }

  /** A frame from the backend: queued, then handed to the guest as soon as it has a buffer. */
  receive(frame: Uint8Array): void {
    if (!this.linkUp || this.#rxPending.length >= this.rxPendingLimit) {
      this.stats.rxDropped++;
      return;
    }
    this.#rxPending.push(frame.slice());
    this.host?.kick(NET_RX_QUEUE);
  }

  /** Plugs or unplugs the cable: the guest sees the link status change. */
  setLinkUp(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    if (!up) this.#rxPending = [];
    this.host?.configChanged();
  }

  readConfig(offset: number, width: AccessWidth): number {
    // virtio_net_config: mac[6], status u16; nothing else is offered.
    const cfg = new Uint8Array(8);
    cfg.set(this.mac);
    cfg[6] = this.linkUp ? VIRTIO_NET_S_LINK_UP : 0;
    return readLe(cfg, offset, width);
  }

  writeConfig(): void {
    // The MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR.
  }

  reset(): void {
    this.#rxPending = [];
  }

  processQueue(index: number, queue: Virtqueue): void {
    if (index === NET_RX_QUEUE) this.fillReceiveBuffers(queue);
    else this.transmit(queue);
  }

  private fillReceiveBuffers(queue: Virtqueue): void {
    while (this.#rxPending.length > 0) {
      const chain = queue.pop();
      if (!chain) return; // frames wait for the next buffers (the guest kicks when it adds some)
      const frame = this.#rxPending.shift()!;
      if (chain.writableLen < NET_HDR_SIZE + frame.length) {
        // A buffer smaller than the spec asks for: give it back empty, the driver counts an error.
        this.stats.rxDropped++;
        queue.push(chain, 0);
        continue;
      }
      const hdr = new Uint8Array(NET_HDR_SIZE);
      hdr[10] = 1; // num_buffers
      chain.write(0, hdr);
      chain.write(NET_HDR_SIZE, frame);
      queue.push(chain, NET_HDR_SIZE + frame.length);
      this.stats.rxFrames++;
    }
  }

  private transmit(queue: Virtqueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      if (chain.readableLen < NET_HDR_SIZE)
        throw new VirtqueueError('virtio-net transmit buffer shorter than its header');
      const frame = chain.readAll(NET_HDR_SIZE);
      queue.push(chain, 0);
      if (!this.linkUp || frame.length === 0) {
        this.stats.txDropped++;
        continue;
      }
      try {
        this.backend.send(frame);
        this.stats.txFrames++;
      } catch {
        this.stats.txDropped++; // a failing network loses the frame, as a wire would
      }
    }
  }

  saveState(): StateSection<VirtioNetState> {
    return {
      name: this.kind,
      version: VIRTIO_NET_STATE_VERSION,
      data: {
        mac: formatMac(this.mac),
        linkUp: this.linkUp,
        rxPending: this.#rxPending.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64')),
      },
    };
  }

  restoreState(section: StateSection): void {
    const s = parseNetState(section, {
      kind: this.kind,
      mac: formatMac(this.mac),
      rxPendingLimit: this.rxPendingLimit,
    });
    ({ linkUp: this.linkUp, rxPending: this.#rxPending } = s);
  }
}
