// virtio-input (device ID 18): an evdev-shaped input device. The configuration space answers
// the driver's (select, subsel) questions: name, serial, device IDs, property bits, the codes
// supported per event type, axis ranges. eventq 0 carries events to the guest, one per
// 8-byte buffer; statusq 1 brings the driver's own events back (keyboard LEDs), recorded.
//
// Host events wait in the device until the guest has posted buffers for them, so nothing is
// lost while the driver is slow; the queue is bounded and a batch that does not fit is dropped
// whole (never half a key press). A device reset (a driver starting over, a reboot) drops what
// waits: key presses meant for the previous driver must not reach a fresh one.
import type { AccessWidth } from '../../../bus/device.js';
import type { StateSection } from '../../../state/section.js';
import { DeviceId } from '../constants.js';
import { readLe, type VirtioDevice, type VirtioHost } from '../device.js';
import type { Virtqueue } from '../queue.js';
import { parseInputState, VIRTIO_INPUT_STATE_VERSION, type VirtioInputState } from './persist.js';

/** virtio_input_config_select. */
export const InputConfigSelect = {
  UNSET: 0x00,
  ID_NAME: 0x01,
  ID_SERIAL: 0x02,
  ID_DEVIDS: 0x03,
  PROP_BITS: 0x10,
  EV_BITS: 0x11,
  ABS_INFO: 0x12,
} as const;

/** virtio_input_config offsets: select, subsel, size, 5 reserved bytes, then the 128-byte union. */
export const InputConfig = { SELECT: 0, SUBSEL: 1, SIZE: 2, UNION: 8, UNION_SIZE: 128 } as const;

/** evdev event types and codes the device itself relies on (linux/input-event-codes.h). */
export const EV = { SYN: 0x00, KEY: 0x01, ABS: 0x03, LED: 0x11, REP: 0x14 } as const;
export const SYN_REPORT = 0;
/** BUS_VIRTUAL (linux/input.h). */
export const BUS_VIRTUAL = 0x06;

/** struct virtio_input_event: le16 type, le16 code, le32 value. */
export const INPUT_EVENT_SIZE = 8;
export const INPUT_QUEUE_SIZE = 64;
export const INPUT_EVENT_QUEUE = 0;
export const INPUT_STATUS_QUEUE = 1;
/** Events held for a guest that posts no buffers (8 bytes each). */
export const INPUT_PENDING_LIMIT = 4096;

export interface InputEvent {
  type: number;
  code: number;
  /** Signed 32-bit (key events: 1 down, 0 up, 2 autorepeat). */
  value: number;
}

export interface AbsInfo {
  min: number;
  max: number;
  fuzz: number;
  flat: number;
  res: number;
}

/** What the device says it is, as evdev would describe it. */
export interface InputDeviceConfig {
  name: string;
  serial?: string;
  ids: { bustype: number; vendor: number; product: number; version: number };
  /** INPUT_PROP_* bits. */
  props?: readonly number[];
  /** Event type (EV_*) → the codes of that type the device produces or accepts. */
  events: ReadonlyMap<number, readonly number[]>;
  /** Axis (ABS_*) → its range, for devices with EV_ABS. */
  abs?: ReadonlyMap<number, AbsInfo>;
}

export interface InputStats {
  /** Events written into guest buffers. */
  delivered: number;
  /** Events dropped because too many were waiting. */
  dropped: number;
  /** Event buffers the guest posted too short for an event (returned empty). */
  shortBuffers: number;
  /** Events the driver sent on statusq. */
  statusEvents: number;
}

export class VirtioInput implements VirtioDevice {
  readonly deviceId = DeviceId.INPUT;
  readonly kind = 'virtio-input';
  readonly features = 0n;
  readonly queueSizes = [INPUT_QUEUE_SIZE, INPUT_QUEUE_SIZE];
  readonly name: string;
  // The driver's current question; what the configuration space shows follows from it.
  private select = 0;
  private subsel = 0;
  #pending: InputEvent[] = [];
  #leds = 0;
  readonly stats: InputStats = { delivered: 0, dropped: 0, shortBuffers: 0, statusEvents: 0 };
  private readonly strings: ReadonlyMap<number, Uint8Array>;
  private readonly devids: Uint8Array;
  private readonly propBits: Uint8Array;
  private readonly evBits: ReadonlyMap<number, Uint8Array>;
  private readonly absInfo: ReadonlyMap<number, Uint8Array>;
  private config = new Uint8Array(InputConfig.UNION + InputConfig.UNION_SIZE);
  private host: VirtioHost | undefined;

  constructor(cfg: InputDeviceConfig) {
    this.name = cfg.name;
    const text = (s: string): Uint8Array => new TextEncoder().encode(s).subarray(0, InputConfig.UNION_SIZE);
    this.strings = new Map([
      [InputConfigSelect.ID_NAME, text(cfg.name)],
      [InputConfigSelect.ID_SERIAL, text(cfg.serial ?? '')],
    ]);
    this.devids = new Uint8Array(8);
    const ids = new DataView(this.devids.buffer);
    [cfg.ids.bustype, cfg.ids.vendor, cfg.ids.product, cfg.ids.version].forEach((v, i) =>
      ids.setUint16(2 * i, v, true),
    );
    this.propBits = bitmap(cfg.props ?? []);
    this.evBits = new Map([...cfg.events].map(([type, codes]) => [type, bitmap(codes)]));
    this.absInfo = new Map(
      [...(cfg.abs ?? [])].map(([axis, a]) => {
        const b = new Uint8Array(20);
        const v = new DataView(b.buffer);
        [a.min, a.max, a.fuzz, a.flat, a.res].forEach((x, i) => v.setInt32(4 * i, x, true));
        return [axis, b];
      }),
    );
  }

  attach(host: VirtioHost): void {
    this.host = host;
  }

  /** Host events not yet in a guest buffer, oldest first. */
  get pending(): readonly InputEvent[] {
    return this.#pending;
  }

  /** LEDs the driver has lit through statusq, one bit per LED_* code. */
  get leds(): number {
    return this.#leds;
  }

  /** Whether a driver runs the device, so events sent now reach it. */
  get driverReady(): boolean {
    return this.host?.driverOk() ?? false;
  }

  /**
   * Queues a batch of events (normally ending with EV_SYN/SYN_REPORT) and gives the guest as
   * many as it has buffers for. False, with nothing queued, if the batch does not fit.
   */
  send(events: readonly InputEvent[]): boolean {
    if (this.#pending.length + events.length > INPUT_PENDING_LIMIT) {
      this.stats.dropped += events.length;
      return false;
    }
    for (const e of events) this.#pending.push({ type: e.type & 0xffff, code: e.code & 0xffff, value: e.value | 0 });
    this.host?.kick(INPUT_EVENT_QUEUE);
    return true;
  }

  readConfig(offset: number, width: AccessWidth): number {
    return readLe(this.config, offset, width);
  }

  writeConfig(offset: number, width: AccessWidth, value: number): void {
    // Only select and subsel are writable; a wide write may cover both.
    for (let i = 0; i < width; i++) {
      const byte = (value >>> (8 * i)) & 0xff;
      if (offset + i === InputConfig.SELECT) this.select = byte;
      else if (offset + i === InputConfig.SUBSEL) this.subsel = byte;
    }
    this.updateConfig();
  }

  /** Rebuilds the configuration space for the current (select, subsel); size 0 means "not supported". */
  private updateConfig(): void {
    const answer = this.answer(this.select, this.subsel) ?? new Uint8Array(0);
    this.config = new Uint8Array(InputConfig.UNION + InputConfig.UNION_SIZE);
    this.config[InputConfig.SELECT] = this.select;
    this.config[InputConfig.SUBSEL] = this.subsel;
    this.config[InputConfig.SIZE] = answer.length;
    this.config.set(answer, InputConfig.UNION);
  }

  private answer(select: number, subsel: number): Uint8Array | undefined {
    switch (select) {
      case InputConfigSelect.ID_NAME:
      case InputConfigSelect.ID_SERIAL:
        return subsel === 0 ? this.strings.get(select) : undefined;
      case InputConfigSelect.ID_DEVIDS:
        return subsel === 0 ? this.devids : undefined;
      case InputConfigSelect.PROP_BITS:
        return subsel === 0 ? this.propBits : undefined;
      case InputConfigSelect.EV_BITS:
        return this.evBits.get(subsel);
      case InputConfigSelect.ABS_INFO:
        return this.absInfo.get(subsel);
      default:
        return undefined;
    }
  }

  reset(): void {
    this.select = this.subsel = 0;
    this.#pending = [];
    this.#leds = 0;
    this.updateConfig();
  }

  processQueue(index: number, queue: Virtqueue): void {
    if (index === INPUT_EVENT_QUEUE) this.deliver(queue);
    else this.takeStatus(queue);
  }

  private deliver(queue: Virtqueue): void {
    let next = 0;
    try {
      while (next < this.#pending.length) {
        const chain = queue.pop();
        if (!chain) break; // the rest waits for the buffers the driver posts next (it kicks then)
        if (chain.writableLen < INPUT_EVENT_SIZE) {
          // Against the spec; the event waits for a proper buffer instead of being cut.
          this.stats.shortBuffers++;
          queue.push(chain, 0);
          continue;
        }
        queue.push(chain, chain.write(0, encodeEvent(this.#pending[next++]!)));
      }
    } finally {
      // Also when a bad chain stops the loop: what the guest already has is not sent again.
      this.stats.delivered += next;
      this.#pending.splice(0, next);
    }
  }

  private takeStatus(queue: Virtqueue): void {
    const bytes = new Uint8Array(INPUT_EVENT_SIZE);
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      const whole = chain.read(0, bytes) === INPUT_EVENT_SIZE;
      queue.push(chain, 0);
      if (!whole) continue;
      this.stats.statusEvents++;
      const v = new DataView(bytes.buffer);
      const [type, code, value] = [v.getUint16(0, true), v.getUint16(2, true), v.getInt32(4, true)];
      if (type === EV.LED && code < 32) this.#leds = value ? this.#leds | (1 << code) : this.#leds & ~(1 << code);
    }
  }

  saveState(): StateSection<VirtioInputState> {
    return {
      name: this.kind,
      version: VIRTIO_INPUT_STATE_VERSION,
      data: {
        name: this.name,
        select: this.select,
        subsel: this.subsel,
        pending: this.#pending.map((e) => [e.type, e.code, e.value]),
        leds: this.#leds,
      },
    };
  }

  restoreState(section: StateSection): void {
    const s = parseInputState(section, { kind: this.kind, name: this.name, pendingLimit: INPUT_PENDING_LIMIT });
    ({ select: this.select, subsel: this.subsel, pending: this.#pending, leds: this.#leds } = s);
    this.updateConfig();
  }
}

/** A bitmap of codes as the config space carries it (bit n in byte n/8), trailing zero bytes cut. */
function bitmap(codes: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(InputConfig.UNION_SIZE);
  let size = 0;
  for (const c of codes) {
    if (!Number.isInteger(c) || c < 0 || c >= 8 * InputConfig.UNION_SIZE)
      throw new RangeError(`input code ${c} does not fit a config bitmap`);
    bytes[c >> 3]! |= 1 << (c & 7);
    size = Math.max(size, (c >> 3) + 1);
  }
  return bytes.subarray(0, size);
}

function encodeEvent(e: InputEvent): Uint8Array {
  const b = new Uint8Array(INPUT_EVENT_SIZE);
  const v = new DataView(b.buffer);
  v.setUint16(0, e.type, true);
  v.setUint16(2, e.code, true);
  v.setInt32(4, e.value, true);
  return b;
}
