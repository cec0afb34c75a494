// Snapshot round trips: a transport and its device saved mid-use, restored into fresh objects
// over a copy of guest RAM, continue where they stopped.
import assert from 'node:assert/strict';
import { GuestRam } from '../../../src/bus/ram.js';
import { BlkStatus, VirtioBlk } from '../../../src/devices/virtio/blk/blk.js';
import { VirtioConsole } from '../../../src/devices/virtio/console/console.js';
import { MmioReg, Status, VIRTIO_INT_VRING } from '../../../src/devices/virtio/constants.js';
import type { VirtioDevice } from '../../../src/devices/virtio/device.js';
import { VirtioMmio } from '../../../src/devices/virtio/mmio.js';
import { L2Switch } from '../../../src/devices/virtio/net/link.js';
import { VirtioNet } from '../../../src/devices/virtio/net/net.js';
import { VirtioRng } from '../../../src/devices/virtio/rng/rng.js';
import { StateError, type StateSection } from '../../../src/state/section.js';
import { FakeIrq, viaJson } from '../fakes.js';
import type { FakeDriver } from './driver.js';
import { MemBackend } from '../../../testing/mem-backend.js';
import { BlkReq, blkRequest, pattern, plug } from './setup.js';

/** Saves the slot and RAM, builds a fresh VM around `device`, restores, and moves the driver over. */
function migrate(t: { ram: GuestRam; mmio: VirtioMmio; drv: FakeDriver }, device: VirtioDevice | undefined) {
  const section = viaJson(t.mmio.saveState());
  const ram = new GuestRam(t.ram.base, t.ram.size);
  ram.bytes.set(t.ram.bytes);
  const irq = new FakeIrq();
  const mmio = new VirtioMmio(ram, irq, device, t.mmio.name);
  mmio.restoreState(section);
  t.drv.moveTo(mmio, ram);
  return { ram, irq, mmio, section };
}

describe('virtio persist', () => {
  it('a virtio-blk queue mid-use continues after restore into a fresh device', () => {
    const backend = new MemBackend(1 << 20);
    const t = plug(new VirtioBlk(backend), 1 << 21);
    t.drv.init(0n);
    const vq = t.drv.setupQueue(0, 16);
    t.drv.driverOk();
    for (let i = 0; i < 5; i++)
      assert.equal(blkRequest(vq, BlkReq.OUT, i, { out: pattern(512, i) }).status, BlkStatus.OK);
    // One more request made available but not yet notified when the VM stops; the last
    // completion's interrupt is still pending.
    const hdr = t.mem.alloc(16);
    t.mem.setU32(hdr, BlkReq.IN);
    t.mem.setU32(hdr + 8, 3);
    const data = t.mem.alloc(512);
    const status = t.mem.alloc(1);
    vq.add(
      [{ addr: hdr, len: 16 }],
      [
        { addr: data, len: 512 },
        { addr: status, len: 1 },
      ],
    );
    assert.ok(t.irq.level);

    const disk = new MemBackend(1 << 20);
    disk.data.set(backend.data);
    const n = migrate(t, new VirtioBlk(disk));
    assert.ok(n.irq.level, 'the pending interrupt is raised again');
    assert.equal(t.drv.status, Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK | Status.DRIVER_OK);
    const q = n.mmio.saveState().data.queues[0]!;
    assert.deepEqual([q.lastAvailIdx, q.usedIdx], [5, 5]);
    assert.ok(vq.kick());
    assert.equal(vq.getBuf()?.len, 513);
    assert.equal(t.mem.read(status, 1)[0], BlkStatus.OK);
    assert.deepEqual(t.mem.read(data, 512), pattern(512, 3));
    // And the queue keeps going.
    assert.equal(blkRequest(vq, BlkReq.OUT, 9, { out: pattern(512, 9) }).status, BlkStatus.OK);
    assert.deepEqual(disk.data.subarray(9 * 512, 10 * 512), pattern(512, 9));
    assert.equal(t.drv.interrupt() & VIRTIO_INT_VRING, VIRTIO_INT_VRING);
  });

  it('event-idx suppression continues where it was', () => {
    const t = plug(new VirtioRng());
    t.drv.init(0n);
    const vq = t.drv.setupQueue(0, 8);
    t.drv.driverOk();
    const one = (irq: { level: boolean }) => {
      vq.add([], [{ addr: t.mem.alloc(4), len: 4 }]);
      vq.kick();
      const l = irq.level;
      if (l) t.drv.interrupt();
      return l;
    };
    assert.ok(one(t.irq));
    vq.getBuf();
    vq.delayInterrupt(3);
    assert.ok(!one(t.irq));
    const n = migrate(t, new VirtioRng());
    assert.deepEqual([one(n.irq), one(n.irq)], [false, true]);
  });

  it('virtio-net frames waiting for buffers survive the trip', () => {
    const sw = new L2Switch();
    const port = sw.connect();
    const net = new VirtioNet({ mac: '52:54:00:00:00:0b', backend: sw.connect() });
    const t = plug(net, 1 << 21);
    t.drv.init(0n);
    const rx = t.drv.setupQueue(0, 8);
    t.drv.setupQueue(1, 8);
    t.drv.driverOk();
    const f = new Uint8Array(60).fill(0xff);
    f[59] = 7;
    port.send(f);
    assert.equal(net.rxPending.length, 1);

    const sw2 = new L2Switch();
    const net2 = new VirtioNet({ mac: '52:54:00:00:00:0b', backend: sw2.connect() });
    migrate(t, net2);
    assert.equal(net2.rxPending.length, 1);
    const addr = t.mem.alloc(1526);
    rx.add([], [{ addr, len: 1526 }]);
    rx.kick();
    assert.equal(rx.getBuf()?.len, 72);
    assert.deepEqual(t.mem.read(addr + 12, 60), f);
  });

  it('a device restores from its own section, and bad state leaves it and its transport as they were', () => {
    const sw = new L2Switch();
    const port = sw.connect();
    const net = new VirtioNet({ mac: '52:54:00:00:00:0b', backend: sw.connect() });
    const t = plug(net, 1 << 21);
    t.drv.init(0n);
    t.drv.setupQueue(0, 8);
    t.drv.setupQueue(1, 8);
    t.drv.driverOk();
    port.send(new Uint8Array(60).fill(0xff));
    const saved = viaJson(t.mmio.saveState());

    const copy = new VirtioNet({ mac: '52:54:00:00:00:0b', backend: new L2Switch().connect() });
    copy.restoreState(viaJson(net.saveState()));
    assert.deepEqual(copy.rxPending, net.rxPending);

    port.send(new Uint8Array(60).fill(0xff).fill(2, 12));
    const before = viaJson(t.mmio.saveState());
    const badDevice = viaJson(saved) as StateSection<{ device: StateSection<{ rxPending: unknown }> }>;
    badDevice.data.device.data.rxPending = [7];
    const badQueue = viaJson(saved) as StateSection<{ queues: Array<{ device: number[] }> }>;
    badQueue.data.queues[1]!.device = [0x1000, 0];
    assert.throws(() => t.mmio.restoreState(badDevice), /bad pending frames/);
    assert.throws(() => t.mmio.restoreState(badQueue), /queue 1: used ring .* outside guest RAM/);
    assert.deepEqual(viaJson(t.mmio.saveState()), before, 'nothing changed');
    assert.equal(net.rxPending.length, 2);
  });

  it('virtio-net refuses a NIC with another MAC', () => {
    const t = plug(new VirtioNet({ mac: '52:54:00:00:00:0b', backend: new L2Switch().connect() }));
    const other = new VirtioMmio(
      t.ram,
      new FakeIrq(),
      new VirtioNet({ mac: '52:54:00:00:00:0c', backend: new L2Switch().connect() }),
      t.mmio.name,
    );
    assert.throws(() => other.restoreState(viaJson(t.mmio.saveState())), /MAC/);
  });

  it('virtio-console input not yet read survives the trip', () => {
    const out: Uint8Array[] = [];
    const c = new VirtioConsole({ output: (b) => out.push(b), size: { cols: 100, rows: 30 } });
    const t = plug(c);
    t.drv.init(0n);
    const rx = t.drv.setupQueue(0, 8);
    t.drv.setupQueue(1, 8);
    t.drv.driverOk();
    c.receive(new TextEncoder().encode('pending keys'));
    const c2 = new VirtioConsole({ output: (b) => out.push(b), size: { cols: 80, rows: 24 } });
    const n = migrate(t, c2);
    assert.equal(n.mmio.read(MmioReg.CONFIG, 2), 100, 'the size the guest saw');
    const addr = t.mem.alloc(64);
    rx.add([], [{ addr, len: 64 }]);
    rx.kick();
    assert.equal(new TextDecoder().decode(t.mem.read(addr, rx.getBuf()!.len)), 'pending keys');
  });

  it('a broken device stays broken, and a half-initialised one resumes negotiation', () => {
    const t = plug(new VirtioRng());
    t.drv.init(0n);
    t.drv.setupQueue(0, 3);
    assert.ok(t.mmio.broken);
    const n = migrate(t, new VirtioRng());
    assert.ok(n.mmio.broken);
    assert.ok(t.drv.status & Status.DEVICE_NEEDS_RESET);
    assert.ok(n.irq.level);

    const u = plug(new VirtioRng());
    u.drv.w(MmioReg.STATUS, Status.ACKNOWLEDGE);
    u.drv.w(MmioReg.DEVICE_FEATURES_SEL, 1);
    const m = migrate(u, new VirtioRng());
    assert.equal(m.mmio.read(MmioReg.DEVICE_FEATURES, 4), 1, 'selector kept: VERSION_1 in the high word');
    assert.equal(m.mmio.read(MmioReg.STATUS, 4), Status.ACKNOWLEDGE);
  });

  it('an empty slot round-trips', () => {
    const t = plug();
    const s = viaJson(t.mmio.saveState());
    assert.equal((s.data as { deviceId: number }).deviceId, 0);
    assert.doesNotThrow(() => new VirtioMmio(t.ram, new FakeIrq(), undefined, t.mmio.name).restoreState(s));
  });

  it('rejects state for another device, another slot, another version or another disk', () => {
    const t = plug(new VirtioBlk(new MemBackend(1 << 16)));
    t.drv.init(0n);
    t.drv.setupQueue(0, 8);
    const s = viaJson(t.mmio.saveState());
    const into = (dev: VirtioDevice | undefined, name = t.mmio.name) => new VirtioMmio(t.ram, new FakeIrq(), dev, name);
    assert.throws(() => into(new VirtioRng()).restoreState(s), StateError);
    assert.throws(() => into(undefined).restoreState(s), StateError);
    assert.throws(
      () => into(new VirtioBlk(new MemBackend(1 << 16)), 'virtio_mmio@10002000').restoreState(s),
      StateError,
    );
    assert.throws(() => into(new VirtioBlk(new MemBackend(1 << 17))).restoreState(s), /sectors/);
    assert.throws(() => into(new VirtioBlk(new MemBackend(1 << 16, { readOnly: true }))).restoreState(s), /writable/);
    assert.throws(() => into(new VirtioBlk(new MemBackend(1 << 16))).restoreState({ ...s, version: 99 }), StateError);
    const bad = viaJson(s) as StateSection<{ queues: Array<{ desc: number[] }> }>;
    bad.data.queues[0]!.desc = [0x1000, 0];
    assert.throws(() => into(new VirtioBlk(new MemBackend(1 << 16))).restoreState(bad), /outside guest RAM/);
    assert.doesNotThrow(() => into(new VirtioBlk(new MemBackend(1 << 16))).restoreState(s));
  });
});
