// virtio-console (device ID 3) with a single port (no MULTIPORT): receiveq 0 carries host input
// to the guest, transmitq 1 guest output to the host. Linux makes it hvc0.
//
// As with the UART, host input goes into an unbounded queue that fills guest buffers as the
// guest posts them, so nothing typed or pasted is lost; it survives a device reset (the driver
// resets the device while probing, possibly after input arrived).
import type { AccessWidth } from '../../../bus/device.js';
import type { StateSection } from '../../../state/section.js';
import { ByteQueue } from '../../uart/uart.js';
import { bit, DeviceId } from '../constants.js';
import { readLe, type VirtioDevice, type VirtioHost } from '../device.js';
import type { Virtqueue } from '../queue.js';
import { parseConsoleState, VIRTIO_CONSOLE_STATE_VERSION, type VirtioConsoleState } from './persist.js';

export const ConsoleFeature = { SIZE: 0, MULTIPORT: 1, EMERG_WRITE: 2 } as const;
/** virtio_console_config offsets. */
export const ConsoleConfig = { COLS: 0, ROWS: 2, MAX_NR_PORTS: 4, EMERG_WR: 8, SIZE: 12 } as const;
export const CONSOLE_QUEUE_SIZE = 128;
export const CONSOLE_RX_QUEUE = 0;
export const CONSOLE_TX_QUEUE = 1;

export interface VirtioConsoleOptions {
  /** Guest output, one call per buffer the guest sent. */
  output: (bytes: Uint8Array) => void;
  /** Console size; when given, VIRTIO_CONSOLE_F_SIZE is offered and resize() works. */
  size?: { cols: number; rows: number };
}

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = DeviceId.CONSOLE;
  readonly kind = 'virtio-console';
  readonly features: bigint;
  readonly queueSizes = [CONSOLE_QUEUE_SIZE, CONSOLE_QUEUE_SIZE];
  /** Host input not yet given to the guest. */
  private readonly hostQueue = new ByteQueue();
  private cols = 0;
  private rows = 0;
  private readonly output: (bytes: Uint8Array) => void;
  private host: VirtioHost | undefined;

  constructor(opts: VirtioConsoleOptions) {
    this.output = opts.output;
    this.features = bit(ConsoleFeature.EMERG_WRITE) | (opts.size ? bit(ConsoleFeature.SIZE) : 0n);
    if (opts.size) [this.cols, this.rows] = [opts.size.cols & 0xffff, opts.size.rows & 0xffff];
  }

  attach(host: VirtioHost): void {
    this.host = host;
  }

  /** Host input (keystrokes, pasted text): queued without limit, fed to the guest as it reads. */
  receive(bytes: Uint8Array): void {
    this.hostQueue.push(bytes);
    this.host?.kick(CONSOLE_RX_QUEUE);
  }

  /** The host terminal changed size (only with a size given at construction). */
  resize(cols: number, rows: number): void {
    if (!(this.features & bit(ConsoleFeature.SIZE))) return;
    [this.cols, this.rows] = [cols & 0xffff, rows & 0xffff];
    this.host?.configChanged();
  }

  readConfig(offset: number, width: AccessWidth): number {
    const cfg = new Uint8Array(ConsoleConfig.SIZE);
    const v = new DataView(cfg.buffer);
    v.setUint16(ConsoleConfig.COLS, this.cols, true);
    v.setUint16(ConsoleConfig.ROWS, this.rows, true);
    v.setUint32(ConsoleConfig.MAX_NR_PORTS, 1, true);
    return readLe(cfg, offset, width);
  }

  writeConfig(offset: number, _width: AccessWidth, value: number): void {
    // emerg_wr: one character out, usable before the queues are set up.
    if (offset === ConsoleConfig.EMERG_WR) this.output(Uint8Array.of(value & 0xff));
  }

  reset(): void {}

  processQueue(index: number, queue: Virtqueue): void {
    if (index === CONSOLE_RX_QUEUE) this.fillReceiveBuffers(queue);
    else this.transmit(queue);
  }

  private fillReceiveBuffers(queue: Virtqueue): void {
    while (this.hostQueue.length > 0) {
      const chain = queue.pop();
      if (!chain) return;
      const data = new Uint8Array(Math.min(chain.writableLen, this.hostQueue.length));
      for (let i = 0; i < data.length; i++) data[i] = this.hostQueue.shift();
      queue.push(chain, chain.write(0, data));
    }
  }

  private transmit(queue: Virtqueue): void {
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const data = chain.readAll();
      queue.push(chain, 0);
      if (data.length > 0) this.output(data);
    }
  }

  saveState(): StateSection<VirtioConsoleState> {
    return {
      name: this.kind,
      version: VIRTIO_CONSOLE_STATE_VERSION,
      data: { hostQueue: Buffer.from(this.hostQueue.toArray()).toString('base64'), cols: this.cols, rows: this.rows },
    };
  }

  /** Also the console size the guest saw, even if this console was made with another. */
  restoreState(section: StateSection): void {
    const s = parseConsoleState(section, this.kind);
    this.hostQueue.clear();
    this.hostQueue.push(s.hostQueue);
    [this.cols, this.rows] = [s.cols, s.rows];
  }
}
