// virtio-input: the configuration space a Linux driver walks while probing, events into the
// 8-byte buffers it posts (held while it has none), statusq (LEDs), and the saved state.
import assert from 'node:assert/strict';
import { GuestRam } from '../../../src/bus/ram.js';
import { DeviceId, MmioReg, Status, VIRTIO_INT_VRING } from '../../../src/devices/virtio/constants.js';
import {
  EV,
  INPUT_PENDING_LIMIT,
  InputConfig,
  InputConfigSelect,
  SYN_REPORT,
  VirtioInput,
  type InputDeviceConfig,
  type InputEvent,
} from '../../../src/devices/virtio/input/input.js';
import {
  KEY_DELETE,
  KEY_LEFTALT,
  KEY_LEFTCTRL,
  keyboardConfig,
  keyPress,
  QCODE_KEYS,
} from '../../../src/devices/virtio/input/keyboard.js';
import { TRANSPORT_FEATURES, VirtioMmio } from '../../../src/devices/virtio/mmio.js';
import { StateError, type StateSection } from '../../../src/state/section.js';
import { FakeIrq, viaJson } from '../fakes.js';
import { plug } from './setup.js';

const CFG = MmioReg.CONFIG;
const CTRL_ALT_DEL = keyPress([KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE]);

/** A keyboard (or `cfg`) probed as virtio_input.c does: queues set up, DRIVER_OK, no buffers yet. */
function probed(cfg: InputDeviceConfig = keyboardConfig()) {
  const dev = new VirtioInput(cfg);
  const t = plug(dev);
  t.drv.init(0n);
  const evt = t.drv.setupQueue(0, 64);
  const sts = t.drv.setupQueue(1, 64);
  t.drv.driverOk();
  const bufs = new Map<number, number>();
  /** virtinput_fill_evt: `n` buffers of one event each (or `len` bytes), then a kick. */
  const post = (n: number, len = 8): void => {
    for (let i = 0; i < n; i++) {
      const addr = t.mem.alloc(len, 8);
      bufs.set(evt.add([], [{ addr, len }]), addr);
    }
    evt.kick();
  };
  /** virtinput_recv_events: the events in used buffers, in order. */
  const received = (): InputEvent[] => {
    const out: InputEvent[] = [];
    for (let u = evt.getBuf(); u; u = evt.getBuf()) {
      if (u.len === 0) continue;
      assert.equal(u.len, 8);
      const a = bufs.get(u.head)!;
      out.push({ type: t.mem.u16(a), code: t.mem.u16(a + 2), value: t.mem.ram.view.getInt32(t.mem.off(a + 4), true) });
    }
    return out;
  };
  return { ...t, dev, evt, sts, post, received };
}

/** What the driver reads after writing select and subsel, byte by byte as virtio_cread_bytes does. */
function ask(mmio: VirtioMmio, select: number, subsel: number): { size: number; bytes: Uint8Array } {
  mmio.write(CFG + InputConfig.SELECT, 1, select);
  mmio.write(CFG + InputConfig.SUBSEL, 1, subsel);
  const size = mmio.read(CFG + InputConfig.SIZE, 1);
  return { size, bytes: Uint8Array.from({ length: size }, (_, i) => mmio.read(CFG + InputConfig.UNION + i, 1)) };
}

const bitSet = (bitmap: Uint8Array, n: number): boolean => ((bitmap[n >> 3] ?? 0) & (1 << (n & 7))) !== 0;

/** Sends one statusq event as virtinput_send_status does. */
function status(t: ReturnType<typeof probed>, type: number, code: number, value: number, len = 8): void {
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  if (len >= 8) {
    v.setUint16(0, type, true);
    v.setUint16(2, code, true);
    v.setInt32(4, value, true);
  }
  t.sts.add([{ addr: t.mem.put(b), len }], []);
  t.sts.kick();
}

describe('virtio-input', () => {
  it('is device 18 with no features of its own and two queues of 64', () => {
    const t = probed();
    assert.equal(t.drv.r(MmioReg.DEVICE_ID), DeviceId.INPUT);
    assert.equal(t.drv.deviceFeatures(), TRANSPORT_FEATURES);
    for (const q of [0, 1]) {
      t.drv.w(MmioReg.QUEUE_SEL, q);
      assert.equal(t.drv.r(MmioReg.QUEUE_NUM_MAX), 64);
    }
    t.drv.w(MmioReg.QUEUE_SEL, 2);
    assert.equal(t.drv.r(MmioReg.QUEUE_NUM_MAX), 0);
  });

  describe('configuration space', () => {
    it('names the keyboard, has no serial, and gives QEMU keyboard IDs on the virtual bus', () => {
      const { mmio } = probed();
      const name = ask(mmio, InputConfigSelect.ID_NAME, 0);
      assert.equal(new TextDecoder().decode(name.bytes), 'Hypernova Virtio Keyboard');
      assert.equal(name.size, 25);
      assert.equal(ask(mmio, InputConfigSelect.ID_SERIAL, 0).size, 0);
      const ids = ask(mmio, InputConfigSelect.ID_DEVIDS, 0);
      assert.equal(ids.size, 8);
      assert.equal(mmio.read(CFG + InputConfig.UNION, 2), 0x06, 'bustype BUS_VIRTUAL');
      assert.equal(mmio.read(CFG + InputConfig.UNION + 2, 2), 0x0627);
      assert.equal(mmio.read(CFG + InputConfig.UNION + 4, 4), 0x0001_0001, 'product and version, as one 32-bit read');
      assert.equal(ask(mmio, InputConfigSelect.PROP_BITS, 0).size, 0);
    });

    it('offers every QKeyCode key, SYN, LEDs and autorepeat, and nothing else', () => {
      const { mmio } = probed();
      const keys = ask(mmio, InputConfigSelect.EV_BITS, EV.KEY);
      const codes = new Set(Object.values(QCODE_KEYS));
      assert.equal(keys.size, Math.floor(Math.max(...codes) / 8) + 1);
      for (const c of [KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE, ...codes]) assert.ok(bitSet(keys.bytes, c), `key ${c}`);
      let set = 0;
      for (let c = 0; c < keys.size * 8; c++) if (bitSet(keys.bytes, c)) set++;
      assert.equal(set, codes.size);
      assert.deepEqual(ask(mmio, InputConfigSelect.EV_BITS, EV.SYN), { size: 1, bytes: Uint8Array.of(1) });
      assert.deepEqual(ask(mmio, InputConfigSelect.EV_BITS, EV.LED), { size: 1, bytes: Uint8Array.of(7) });
      assert.deepEqual(ask(mmio, InputConfigSelect.EV_BITS, EV.REP), { size: 1, bytes: Uint8Array.of(3) });
      for (const type of [EV.ABS, 0x02, 0x04, 0x05, 0x12])
        assert.equal(ask(mmio, InputConfigSelect.EV_BITS, type).size, 0, `type ${type}`);
      assert.equal(ask(mmio, InputConfigSelect.ABS_INFO, 0).size, 0);
    });

    it('answers size 0, and a zero union, for UNSET, unknown selects and subsels that mean nothing', () => {
      const { mmio } = probed();
      ask(mmio, InputConfigSelect.ID_NAME, 0);
      for (const [sel, sub] of [
        [InputConfigSelect.UNSET, 0],
        [0x04, 0],
        [0xff, 0xff],
        [InputConfigSelect.ID_NAME, 1],
        [InputConfigSelect.ID_DEVIDS, 2],
      ]) {
        const a = ask(mmio, sel!, sub!);
        assert.equal(a.size, 0, `select ${sel} subsel ${sub}`);
        assert.equal(mmio.read(CFG + InputConfig.UNION, 4), 0, 'no leftovers of the previous answer');
      }
      assert.equal(mmio.read(CFG, 2), (2 << 8) | InputConfigSelect.ID_DEVIDS, 'select and subsel read back');
      assert.equal(mmio.read(CFG + 200, 4), 0, 'past the structure');
    });

    it('gives axis ranges for a device with EV_ABS, and property bits', () => {
      const { mmio } = probed({
        name: 'tablet',
        serial: 'T-1',
        ids: { bustype: 6, vendor: 1, product: 2, version: 3 },
        props: [1], // INPUT_PROP_DIRECT
        events: new Map([[EV.ABS, [0, 1]]]),
        abs: new Map([
          [0, { min: 0, max: 32767, fuzz: 0, flat: 0, res: 0 }],
          [1, { min: -5, max: 5, fuzz: 1, flat: 2, res: 3 }],
        ]),
      });
      assert.equal(new TextDecoder().decode(ask(mmio, InputConfigSelect.ID_SERIAL, 0).bytes), 'T-1');
      assert.deepEqual(ask(mmio, InputConfigSelect.PROP_BITS, 0), { size: 1, bytes: Uint8Array.of(2) });
      assert.deepEqual(ask(mmio, InputConfigSelect.EV_BITS, EV.ABS), { size: 1, bytes: Uint8Array.of(3) });
      assert.equal(ask(mmio, InputConfigSelect.ABS_INFO, 0).size, 20);
      assert.equal(mmio.read(CFG + InputConfig.UNION + 4, 4), 32767);
      assert.equal(ask(mmio, InputConfigSelect.ABS_INFO, 1).size, 20);
      const words = Array.from({ length: 5 }, (_, i) => mmio.read(CFG + InputConfig.UNION + 4 * i, 4) | 0);
      assert.deepEqual(words, [-5, 5, 1, 2, 3], 'min, max, fuzz, flat, res');
      assert.equal(ask(mmio, InputConfigSelect.ABS_INFO, 2).size, 0);
    });

    it('takes select and subsel from one wide write, and ignores writes elsewhere', () => {
      const { mmio, dev } = probed();
      mmio.write(CFG, 2, (EV.LED << 8) | InputConfigSelect.EV_BITS);
      assert.equal(mmio.read(CFG + InputConfig.SIZE, 1), 1);
      mmio.write(CFG + InputConfig.SIZE, 1, 99);
      mmio.write(CFG + InputConfig.UNION, 4, 0);
      assert.equal(mmio.read(CFG + InputConfig.SIZE, 4), 1, 'size 1, reserved bytes 0');
      assert.equal(mmio.read(CFG + InputConfig.UNION, 1), 7);
      const { select, subsel } = dev.saveState().data;
      assert.deepEqual([select, subsel], [InputConfigSelect.EV_BITS, EV.LED]);
    });

    it('refuses, when built, codes that do not fit the 128-byte bitmap', () => {
      assert.throws(() => new VirtioInput({ ...keyboardConfig(), events: new Map([[EV.KEY, [1024]]]) }), RangeError);
    });
  });

  describe('events', () => {
    it('delivers Ctrl+Alt+Delete as key downs, a report, key ups in reverse, a report, one event per buffer', () => {
      const t = probed();
      t.post(64);
      assert.ok(!t.irq.level);
      assert.ok(t.dev.send(CTRL_ALT_DEL));
      assert.ok(t.irq.level);
      assert.equal(t.drv.interrupt() & VIRTIO_INT_VRING, VIRTIO_INT_VRING);
      const k = (code: number, value: number): InputEvent => ({ type: EV.KEY, code, value });
      const syn = { type: EV.SYN, code: SYN_REPORT, value: 0 };
      assert.deepEqual(t.received(), [k(29, 1), k(56, 1), k(111, 1), syn, k(111, 0), k(56, 0), k(29, 0), syn]);
      assert.equal(t.dev.stats.delivered, 8);
      assert.equal(t.dev.pending.length, 0);
    });

    it('holds events while the driver has no buffers, and delivers them in order as buffers come', () => {
      const t = probed();
      assert.ok(t.dev.send(CTRL_ALT_DEL));
      assert.ok(t.dev.send(keyPress([QCODE_KEYS.a!])));
      assert.equal(t.dev.pending.length, 12);
      assert.ok(!t.irq.level, 'nothing to signal yet');
      t.post(3);
      const first = t.received();
      assert.equal(first.length, 3);
      assert.equal(t.dev.pending.length, 9);
      t.post(64);
      const all = [...first, ...t.received()];
      assert.deepEqual(all, [...CTRL_ALT_DEL, ...keyPress([30])]);
      assert.equal(t.dev.pending.length, 0);
    });

    it('drops a batch that would overflow the held events, whole, and says so', () => {
      const t = probed();
      const batch = keyPress([QCODE_KEYS.x!]); // 4 events
      for (let i = 0; i < INPUT_PENDING_LIMIT / 4; i++) assert.ok(t.dev.send(batch));
      assert.equal(t.dev.send(batch), false);
      assert.equal(t.dev.pending.length, INPUT_PENDING_LIMIT);
      assert.equal(t.dev.stats.dropped, 4);
      t.post(64);
      assert.equal(t.received().length, 64);
      assert.ok(t.dev.send(batch), 'room again once the guest reads');
    });

    it('gives back a buffer too short for an event empty, and keeps the event for the next one', () => {
      const t = probed();
      t.post(1, 4);
      t.post(1, 0);
      t.post(1);
      t.dev.send(CTRL_ALT_DEL);
      assert.deepEqual(t.received(), [CTRL_ALT_DEL[0]], 'the two short buffers came back empty');
      assert.equal(t.dev.stats.shortBuffers, 2);
      assert.equal(t.dev.pending.length, 7);
      assert.ok(!t.mmio.broken);
    });

    it('is driver-ready only between DRIVER_OK and a reset or a guest error', () => {
      const dev = new VirtioInput(keyboardConfig());
      assert.equal(dev.driverReady, false, 'not plugged in');
      const t = plug(dev);
      t.drv.init(0n);
      t.drv.setupQueue(0, 8);
      t.drv.setupQueue(1, 8);
      assert.equal(dev.driverReady, false);
      t.drv.driverOk();
      assert.equal(dev.driverReady, true);
      dev.send(CTRL_ALT_DEL);
      t.drv.reset();
      assert.equal(dev.driverReady, false);
      assert.equal(dev.pending.length, 0, 'a reset drops what the old driver never read');
      t.drv.init(0n);
      const evt = t.drv.setupQueue(0, 8);
      t.drv.setupQueue(1, 8);
      t.drv.driverOk();
      t.mem.setDesc(evt.desc, 0, 0x1000, 8, 2, 0); // outside RAM
      t.mem.setU16(evt.avail + 4, 0);
      t.mem.setU16(evt.avail + 2, 1);
      assert.doesNotThrow(() => dev.send(CTRL_ALT_DEL));
      assert.ok(t.mmio.broken);
      assert.equal(dev.driverReady, false);
    });
  });

  describe('statusq', () => {
    it('records the LEDs the driver sets, completes every buffer, and ignores what it cannot read', () => {
      const t = probed();
      status(t, EV.LED, 1, 1); // LED_CAPSL on
      status(t, EV.SYN, SYN_REPORT, 0);
      assert.equal(t.dev.leds, 0b010);
      status(t, EV.LED, 0, 1);
      status(t, EV.LED, 1, 0);
      assert.equal(t.dev.leds, 0b001);
      status(t, EV.REP, 0, 250); // autorepeat settings: taken, nothing to do
      status(t, EV.LED, 2, 1, 6); // too short: ignored
      assert.equal(t.dev.leds, 0b001);
      assert.equal(t.dev.stats.statusEvents, 5);
      const used: number[] = [];
      for (let u = t.sts.getBuf(); u; u = t.sts.getBuf()) used.push(u.len);
      assert.deepEqual(used, [0, 0, 0, 0, 0, 0], 'every status buffer back, nothing written');
      assert.ok(!t.mmio.broken);
    });
  });

  describe('saved state', () => {
    function move(t: ReturnType<typeof probed>, dev: VirtioInput, section: StateSection = viaJson(t.mmio.saveState())) {
      const ram = new GuestRam(t.ram.base, t.ram.size);
      ram.bytes.set(t.ram.bytes);
      const mmio = new VirtioMmio(ram, new FakeIrq(), dev, t.mmio.name);
      mmio.restoreState(section);
      t.drv.moveTo(mmio, ram);
      return mmio;
    }

    it('carries held events, LEDs and the config question to a fresh device, which goes on', () => {
      const t = probed();
      status(t, EV.LED, 0, 1);
      t.dev.send(CTRL_ALT_DEL);
      t.mmio.write(CFG + InputConfig.SELECT, 1, InputConfigSelect.EV_BITS);
      t.mmio.write(CFG + InputConfig.SUBSEL, 1, EV.LED);
      const dev = new VirtioInput(keyboardConfig());
      const mmio = move(t, dev);
      assert.equal(dev.pending.length, 8);
      assert.equal(dev.leds, 1);
      assert.equal(mmio.read(CFG + InputConfig.SIZE, 1), 1, 'the answer the driver is about to read');
      assert.equal(mmio.read(CFG + InputConfig.UNION, 1), 7);
      assert.ok(dev.driverReady);
      t.post(64);
      assert.deepEqual(t.received(), CTRL_ALT_DEL);
    });

    it('refuses state for another input device, and malformed held events', () => {
      const t = probed();
      t.dev.send(CTRL_ALT_DEL);
      const s = viaJson(t.mmio.saveState());
      assert.throws(
        () => move(t, new VirtioInput({ ...keyboardConfig(), name: 'mouse' }), s),
        /'Hypernova Virtio Keyboard'/,
      );
      const bad = viaJson(s) as StateSection<{ device: StateSection<{ pending: unknown[] }> }>;
      bad.data.device.data.pending = [[1, 2]];
      assert.throws(() => move(t, new VirtioInput(keyboardConfig()), bad), StateError);
      bad.data.device.data.pending = Array.from({ length: INPUT_PENDING_LIMIT + 1 }, () => [0, 0, 0]);
      assert.throws(() => move(t, new VirtioInput(keyboardConfig()), bad), StateError);
      assert.equal(t.drv.status & Status.DRIVER_OK, Status.DRIVER_OK);
    });
  });
});
