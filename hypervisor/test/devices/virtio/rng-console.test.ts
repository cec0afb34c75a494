import assert from 'node:assert/strict';
import { ConsoleConfig, ConsoleFeature, VirtioConsole } from '../../../src/devices/virtio/console/console.js';
import { bit, DeviceId, MmioReg, VIRTIO_INT_CONFIG, VIRTIO_INT_VRING } from '../../../src/devices/virtio/constants.js';
import { RNG_MAX_REQUEST, VirtioRng } from '../../../src/devices/virtio/rng/rng.js';
import { plug } from './setup.js';

describe('virtio-rng', () => {
  it('is device 4 and fills the guest buffers with random bytes, across segments', () => {
    const rng = new VirtioRng();
    const t = plug(rng);
    assert.equal(t.drv.probe(), DeviceId.ENTROPY);
    t.drv.init(0n);
    const vq = t.drv.setupQueue(0);
    t.drv.driverOk();
    const a = t.mem.alloc(64);
    const b = t.mem.alloc(64);
    vq.add(
      [],
      [
        { addr: a, len: 64 },
        { addr: b, len: 64 },
      ],
    );
    vq.kick();
    assert.ok(t.irq.level);
    assert.equal(vq.getBuf()?.len, 128);
    const bytes = Buffer.concat([t.mem.read(a, 64), t.mem.read(b, 64)]);
    assert.ok(new Set(bytes).size > 40, 'looks random');
    assert.equal(rng.bytesServed, 128);
  });

  it('serves at most 64 KiB per request, as the spec allows', () => {
    const t = plug(new VirtioRng(), 1 << 20);
    t.drv.init(0n);
    const vq = t.drv.setupQueue(0);
    vq.add([], [{ addr: t.mem.alloc(RNG_MAX_REQUEST * 2), len: RNG_MAX_REQUEST * 2 }]);
    vq.kick();
    assert.equal(vq.getBuf()?.len, RNG_MAX_REQUEST);
  });

  it('returns a buffer with nothing writable at length 0', () => {
    const t = plug(new VirtioRng());
    t.drv.init(0n);
    const vq = t.drv.setupQueue(0);
    vq.add([{ addr: t.mem.alloc(8), len: 8 }], []);
    vq.kick();
    assert.equal(vq.getBuf()?.len, 0);
  });
});

describe('virtio-console', () => {
  function cons(size?: { cols: number; rows: number }) {
    const out: Uint8Array[] = [];
    const dev = new VirtioConsole({ output: (b) => out.push(b), size });
    const t = plug(dev);
    t.drv.init(bit(ConsoleFeature.SIZE) | bit(ConsoleFeature.EMERG_WRITE));
    const rx = t.drv.setupQueue(0, 8);
    const tx = t.drv.setupQueue(1, 8);
    t.drv.driverOk();
    const rxAddr = new Map<number, number>();
    const post = (n: number, len = 16): void => {
      for (let i = 0; i < n; i++) {
        const addr = t.mem.alloc(len);
        rxAddr.set(rx.add([], [{ addr, len }]), addr);
      }
      rx.kick();
    };
    const input = (): string => {
      let s = '';
      for (let u = rx.getBuf(); u; u = rx.getBuf())
        s += new TextDecoder().decode(t.mem.read(rxAddr.get(u.head)!, u.len));
      return s;
    };
    const write = (s: string): void => {
      tx.add([{ addr: t.mem.put(new TextEncoder().encode(s)), len: s.length }], []);
      tx.kick();
      while (tx.getBuf());
    };
    return { ...t, dev, out, post, input, write, text: () => out.map((b) => new TextDecoder().decode(b)).join('') };
  }

  it('is device 3 and sends guest output to the host callback', () => {
    const c = cons();
    assert.equal(c.drv.r(MmioReg.DEVICE_ID), DeviceId.CONSOLE);
    c.write('hello ');
    c.write('hvc0\n');
    assert.equal(c.text(), 'hello hvc0\n');
    assert.ok(c.irq.level);
    assert.equal(c.drv.interrupt(), VIRTIO_INT_VRING);
  });

  it('feeds host input into guest buffers as they come, losing nothing', () => {
    const c = cons();
    c.dev.receive(new TextEncoder().encode('typed before buffers; '));
    c.dev.receive(new TextEncoder().encode('and a long paste that needs several buffers'));
    assert.ok(!c.irq.level);
    c.post(2);
    assert.ok(c.irq.level);
    let got = c.input();
    assert.equal(got.length, 32);
    c.post(8);
    got += c.input();
    assert.equal(got, 'typed before buffers; and a long paste that needs several buffers');
    c.dev.receive(new TextEncoder().encode('!'));
    assert.equal(c.input(), '!');
    assert.equal(c.dev.saveState().data.hostQueue, '', 'nothing left queued');
  });

  it('keeps host input across a device reset (the driver resets while probing)', () => {
    const c = cons();
    c.dev.receive(new TextEncoder().encode('early'));
    c.drv.reset();
    c.drv.init(0n);
    const rx = c.drv.setupQueue(0, 8);
    c.drv.driverOk();
    const addr = c.mem.alloc(16);
    rx.add([], [{ addr, len: 16 }]);
    rx.kick();
    assert.equal(new TextDecoder().decode(c.mem.read(addr, rx.getBuf()!.len)), 'early');
  });

  it('reports cols/rows with VIRTIO_CONSOLE_F_SIZE and signals a resize', () => {
    const c = cons({ cols: 120, rows: 40 });
    assert.ok(c.drv.features & bit(ConsoleFeature.SIZE));
    assert.equal(c.mmio.read(MmioReg.CONFIG + ConsoleConfig.COLS, 2), 120);
    assert.equal(c.mmio.read(MmioReg.CONFIG + ConsoleConfig.ROWS, 2), 40);
    c.dev.resize(80, 25);
    assert.equal(c.drv.interrupt(), VIRTIO_INT_CONFIG);
    assert.equal(c.mmio.read(MmioReg.CONFIG, 4), (25 << 16) | 80);
    const plain = cons();
    assert.ok(!(plain.drv.deviceFeatures() & bit(ConsoleFeature.SIZE)));
  });

  it('writes a character through emerg_wr', () => {
    const c = cons();
    c.mmio.write(MmioReg.CONFIG + ConsoleConfig.EMERG_WR, 4, 0x21);
    assert.equal(c.text(), '!');
  });
});
