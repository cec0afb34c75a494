import assert from 'node:assert/strict';
import {
  bit,
  DeviceId,
  Feature,
  MmioReg,
  Status,
  VIRTIO_INT_CONFIG,
  VIRTIO_INT_VRING,
} from '../../../src/devices/virtio/constants.js';
import { VirtioRng } from '../../../src/devices/virtio/rng/rng.js';
import { VirtioNet } from '../../../src/devices/virtio/net/net.js';
import { L2Switch } from '../../../src/devices/virtio/net/link.js';
import { createVirtioSlots, virtioSlotLayout } from '../../../src/devices/virtio/slots.js';
import { TRANSPORT_FEATURES } from '../../../src/devices/virtio/mmio.js';
import { GuestRam } from '../../../src/bus/ram.js';
import { FakeIrq } from '../fakes.js';
import { plug } from './setup.js';

describe('virtio-mmio transport', () => {
  it('identifies itself as a version 2 device with QEMU vendor id', () => {
    const { drv } = plug(new VirtioRng());
    assert.equal(drv.r(MmioReg.MAGIC_VALUE), 0x74726976);
    assert.equal(drv.r(MmioReg.VERSION), 2);
    assert.equal(drv.r(MmioReg.DEVICE_ID), DeviceId.ENTROPY);
    assert.equal(drv.r(MmioReg.VENDOR_ID), 0x554d4551);
  });

  it('answers DeviceID 0 in an empty slot and ignores writes there', () => {
    const { drv, mmio } = plug();
    assert.equal(drv.probe(), 0);
    drv.w(MmioReg.STATUS, Status.ACKNOWLEDGE);
    drv.w(MmioReg.QUEUE_NOTIFY, 0);
    assert.equal(drv.r(MmioReg.STATUS), 0);
    assert.equal(drv.r(MmioReg.DEVICE_FEATURES), 0);
    assert.equal(drv.r(MmioReg.QUEUE_NUM_MAX), 0);
    assert.equal(mmio.read(MmioReg.CONFIG, 4), 0);
  });

  it('lists the 8 virt slots at 0x10001000 + 0x1000*i with irq 1 + i', () => {
    const layout = virtioSlotLayout();
    assert.equal(layout.length, 8);
    layout.forEach((s, i) => {
      assert.equal(s.base, 0x1000_1000 + 0x1000 * i);
      assert.equal(s.size, 0x1000);
      assert.equal(s.irq, 1 + i);
    });
    assert.equal(layout[0]!.name, 'virtio_mmio@10001000');
    const ram = new GuestRam(0x8000_0000, 1 << 16);
    const irqs: number[] = [];
    const slots = createVirtioSlots(ram, (irq) => (irqs.push(irq), new FakeIrq()), [undefined, new VirtioRng()]);
    assert.equal(slots.length, 8);
    assert.deepEqual(irqs, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(
      slots.map((s) => s.mmio.read(MmioReg.DEVICE_ID, 4)),
      [0, 4, 0, 0, 0, 0, 0, 0],
    );
    assert.throws(() => virtioSlotLayout(9), RangeError);
  });

  it('offers VERSION_1, INDIRECT_DESC and EVENT_IDX on top of the device features', () => {
    const { drv } = plug(new VirtioNet({ mac: '52:54:00:00:00:01', backend: new L2Switch().connect() }));
    const f = drv.deviceFeatures();
    assert.equal(f & TRANSPORT_FEATURES, TRANSPORT_FEATURES);
    assert.ok(f & bit(5), 'VIRTIO_NET_F_MAC');
    assert.ok(f & bit(16), 'VIRTIO_NET_F_STATUS');
    drv.w(MmioReg.DEVICE_FEATURES_SEL, 2);
    assert.equal(drv.r(MmioReg.DEVICE_FEATURES), 0);
  });

  it('accepts a subset with VERSION_1 and sets FEATURES_OK', () => {
    const { drv, mmio } = plug(new VirtioRng());
    const got = drv.init(0n);
    assert.equal(got, TRANSPORT_FEATURES);
    assert.equal(drv.status, Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK);
    assert.ok(mmio.hasFeature(Feature.EVENT_IDX));
    drv.w(MmioReg.DRIVER_FEATURES_SEL, 0);
    assert.equal(drv.r(MmioReg.DRIVER_FEATURES), Number(TRANSPORT_FEATURES & 0xffff_ffffn));
  });

  it('refuses FEATURES_OK without VERSION_1 (legacy) or with features it did not offer', () => {
    const a = plug(new VirtioRng());
    assert.throws(() => a.drv.init(0n, { drop: bit(Feature.VERSION_1) }), /refuses features/);
    const b = plug(new VirtioRng());
    assert.throws(() => b.drv.init(0n, { force: bit(3) }), /refuses features/);
  });

  it('freezes the driver features once FEATURES_OK is set', () => {
    const { drv, mmio } = plug(new VirtioRng());
    drv.init(0n, { drop: bit(Feature.EVENT_IDX) });
    drv.w(MmioReg.DRIVER_FEATURES_SEL, 0);
    drv.w(MmioReg.DRIVER_FEATURES, 0xffff_ffff);
    assert.ok(!mmio.hasFeature(Feature.EVENT_IDX));
  });

  it('reports QueueNumMax per queue and 0 for queues that do not exist', () => {
    const { drv } = plug(new VirtioNet({ mac: '52:54:00:00:00:01', backend: new L2Switch().connect() }));
    drv.init(0n);
    for (const q of [0, 1]) {
      drv.w(MmioReg.QUEUE_SEL, q);
      assert.equal(drv.r(MmioReg.QUEUE_NUM_MAX), 256);
    }
    drv.w(MmioReg.QUEUE_SEL, 2);
    assert.equal(drv.r(MmioReg.QUEUE_NUM_MAX), 0);
    drv.w(MmioReg.QUEUE_READY, 1); // no such queue: ignored
    assert.equal(drv.r(MmioReg.QUEUE_READY), 0);
  });

  it('sets up a queue with the Linux register sequence and reads QueueReady back', () => {
    const { drv } = plug(new VirtioRng());
    drv.init(0n);
    const vq = drv.setupQueue(0, 16);
    assert.equal(drv.r(MmioReg.QUEUE_READY), 1);
    assert.equal(drv.r(MmioReg.QUEUE_NUM), 16);
    assert.equal(drv.r(MmioReg.QUEUE_DESC_LOW), vq.desc);
    assert.equal(drv.r(MmioReg.QUEUE_DRIVER_LOW), vq.avail);
    assert.equal(drv.r(MmioReg.QUEUE_DEVICE_LOW), vq.used);
    // Layout registers are frozen while the queue is live.
    drv.w(MmioReg.QUEUE_DESC_LOW, 0x1234);
    assert.equal(drv.r(MmioReg.QUEUE_DESC_LOW), vq.desc);
    drv.w(MmioReg.QUEUE_READY, 0);
    assert.equal(drv.r(MmioReg.QUEUE_READY), 0);
  });

  it('ignores non-32-bit register accesses, but allows narrow config accesses', () => {
    const { mmio } = plug(new VirtioNet({ mac: '52:54:00:ab:cd:ef', backend: new L2Switch().connect() }));
    assert.equal(mmio.read(MmioReg.MAGIC_VALUE, 1), 0);
    assert.equal(mmio.read(MmioReg.MAGIC_VALUE + 2, 2), 0);
    mmio.write(MmioReg.STATUS, 1, Status.ACKNOWLEDGE);
    assert.equal(mmio.read(MmioReg.STATUS, 4), 0);
    assert.equal(mmio.read(MmioReg.CONFIG + 3, 1), 0xab);
    assert.equal(mmio.read(MmioReg.CONFIG + 4, 2), 0xefcd);
    assert.equal(mmio.read(MmioReg.CONFIG, 4), 0xab005452);
  });

  it('answers shared-memory length -1 (no regions)', () => {
    const { drv } = plug(new VirtioRng());
    assert.equal(drv.r(MmioReg.SHM_LEN_LOW), 0xffff_ffff);
    assert.equal(drv.r(MmioReg.SHM_LEN_HIGH), 0xffff_ffff);
  });

  it('drives the irq line from InterruptStatus and lowers it on InterruptACK', () => {
    const { drv, irq } = plug(new VirtioRng());
    drv.init(0n);
    const vq = drv.setupQueue(0);
    drv.driverOk();
    const buf = drv.mem.alloc(32);
    vq.add([], [{ addr: buf, len: 32 }]);
    vq.kick();
    assert.ok(irq.level);
    assert.equal(drv.r(MmioReg.INTERRUPT_STATUS), VIRTIO_INT_VRING);
    drv.interrupt();
    assert.ok(!irq.level);
    assert.equal(drv.r(MmioReg.INTERRUPT_STATUS), 0);
  });

  it('bumps ConfigGeneration and raises a config interrupt when the device config changes', () => {
    const net = new VirtioNet({ mac: '52:54:00:00:00:01', backend: new L2Switch().connect() });
    const { drv, irq } = plug(net);
    drv.init(0n);
    drv.driverOk();
    const gen = drv.r(MmioReg.CONFIG_GENERATION);
    assert.equal(drv.dev.read(MmioReg.CONFIG + 6, 2), 1, 'link up');
    net.setLinkUp(false);
    assert.equal(drv.r(MmioReg.CONFIG_GENERATION), gen + 1);
    assert.ok(irq.level);
    assert.equal(drv.interrupt(), VIRTIO_INT_CONFIG);
    assert.equal(drv.dev.read(MmioReg.CONFIG + 6, 2), 0, 'link down');
  });

  it('resets the transport and the device when Status is written 0', () => {
    const { drv, irq, mmio } = plug(new VirtioRng());
    drv.init(0n);
    drv.setupQueue(0);
    drv.driverOk();
    const vq = drv.queues[0]!;
    vq.add([], [{ addr: drv.mem.alloc(8), len: 8 }]);
    vq.kick();
    assert.ok(irq.level);
    drv.reset();
    assert.equal(drv.status, 0);
    assert.ok(!irq.level);
    assert.equal(drv.r(MmioReg.INTERRUPT_STATUS), 0);
    assert.equal(mmio.saveState().data.driverFeatures, '0');
    drv.w(MmioReg.QUEUE_SEL, 0);
    assert.equal(drv.r(MmioReg.QUEUE_READY), 0);
    assert.equal(drv.r(MmioReg.QUEUE_NUM), 64, 'QueueNum back to its maximum');
    // And the device works again from scratch.
    drv.init(0n);
    const vq2 = drv.setupQueue(0);
    drv.driverOk();
    vq2.add([], [{ addr: drv.mem.alloc(8), len: 8 }]);
    vq2.kick();
    assert.deepEqual(vq2.getBuf()?.len, 8);
  });

  it('ignores notifies for queues that are not ready or do not exist', () => {
    const { drv, irq } = plug(new VirtioRng());
    drv.init(0n);
    drv.notify(0);
    drv.notify(7);
    assert.ok(!irq.level);
    assert.equal(drv.status & Status.DEVICE_NEEDS_RESET, 0);
  });
});
