// Used-buffer interrupt suppression and available-buffer notification suppression, the way
// Linux's virtio_ring uses them: VRING_AVAIL_F_NO_INTERRUPT without EVENT_IDX, used_event /
// avail_event with it.
import assert from 'node:assert/strict';
import { bit, Feature, VIRTIO_INT_VRING } from '../../../src/devices/virtio/constants.js';
import { needEvent } from '../../../src/devices/virtio/queue.js';
import { VirtioRng } from '../../../src/devices/virtio/rng/rng.js';
import { VirtioConsole } from '../../../src/devices/virtio/console/console.js';
import { plug } from './setup.js';

function rng(eventIdx: boolean) {
  const t = plug(new VirtioRng());
  t.drv.init(0n, { drop: eventIdx ? 0n : bit(Feature.EVENT_IDX) });
  const vq = t.drv.setupQueue(0, 16);
  t.drv.driverOk();
  assert.equal(vq.eventIdx, eventIdx);
  /** Adds one buffer, kicks, and says whether an interrupt came (acknowledging it). */
  const one = (): { kicked: boolean; irq: boolean } => {
    vq.add([], [{ addr: t.mem.alloc(8), len: 8 }]);
    const kicked = vq.kick();
    const irq = t.irq.level;
    if (irq) assert.equal(t.drv.interrupt(), VIRTIO_INT_VRING);
    return { kicked, irq };
  };
  return { ...t, vq, one };
}

describe('virtio notification suppression', () => {
  it('vring_need_event matches the spec formula, wrapping at 2^16', () => {
    assert.ok(needEvent(0, 1, 0));
    assert.ok(!needEvent(1, 1, 0));
    assert.ok(needEvent(5, 6, 5));
    assert.ok(needEvent(5, 8, 3));
    assert.ok(!needEvent(9, 8, 3));
    assert.ok(needEvent(0xffff, 0, 0xfffe));
    assert.ok(needEvent(0xfffe, 2, 0xfff0));
  });

  it('without EVENT_IDX: VRING_AVAIL_F_NO_INTERRUPT holds interrupts back', () => {
    const t = rng(false);
    assert.ok(t.one().irq);
    t.vq.disableCb();
    assert.ok(!t.one().irq);
    assert.ok(!t.one().irq);
    while (t.vq.getBuf());
    assert.ok(t.vq.enableCb());
    assert.ok(t.one().irq);
    assert.ok(t.one().kicked, 'the device never sets VRING_USED_F_NO_NOTIFY');
  });

  it('with EVENT_IDX: interrupts only when the used index passes used_event', () => {
    const t = rng(true);
    // The first completion always interrupts; get_buf then asks for the next one.
    assert.ok(t.one().irq);
    assert.ok(t.vq.getBuf());
    assert.ok(t.one().irq);
    assert.ok(t.vq.getBuf());
    // Ask to hear only after 3 more buffers (virtqueue_enable_cb_delayed).
    t.vq.delayInterrupt(3);
    assert.deepEqual([t.one().irq, t.one().irq, t.one().irq], [false, false, true]);
    // disable_cb with EVENT_IDX parks used_event: nothing until it is re-armed.
    t.vq.disableCb();
    while (t.vq.getBuf());
    const quiet = [t.one(), t.one()].map((r) => r.irq);
    assert.deepEqual(quiet, [false, false]);
    assert.ok(!t.vq.enableCb(), 'buffers were used while interrupts were off');
    while (t.vq.getBuf());
    assert.ok(t.vq.enableCb());
    assert.ok(t.one().irq);
  });

  it('with EVENT_IDX: avail_event asks for a kick on the next buffer after each batch', () => {
    const t = rng(true);
    const availEvent = () => t.mem.u16(t.vq.availEventAddr());
    assert.ok(t.one().kicked);
    assert.equal(availEvent(), 1);
    for (let i = 0; i < 3; i++) t.vq.add([], [{ addr: t.mem.alloc(8), len: 8 }]);
    assert.ok(t.vq.kick(), 'a batch of three is one kick');
    assert.equal(availEvent(), 4);
    while (t.vq.getBuf());
    assert.equal(t.vq.numFree, 16);
  });

  it('interrupts in one batch are coalesced to one raise of the line', () => {
    const t = rng(true);
    const levels: boolean[] = [];
    const set = t.irq.set.bind(t.irq);
    t.irq.set = (l: boolean) => (levels.push(l), set(l));
    for (let i = 0; i < 5; i++) t.vq.add([], [{ addr: t.mem.alloc(8), len: 8 }]);
    t.vq.kick();
    assert.deepEqual(levels, [true]);
  });

  it('keeps working across the 16-bit index wrap', () => {
    // virtio-console's transmit queue: the cheapest device work there is.
    let out = 0;
    const t = plug(new VirtioConsole({ output: (b) => (out += b.length) }));
    t.drv.init(0n);
    const vq = t.drv.setupQueue(1, 16);
    t.drv.driverOk();
    const buf = { addr: t.mem.put(Uint8Array.of(1, 2, 3, 4)), len: 4 };
    let irqs = 0;
    for (let i = 0; i < 70_000; i++) {
      vq.add([buf], []);
      vq.kick();
      if (t.irq.level) {
        irqs++;
        t.drv.interrupt();
      }
      assert.ok(vq.getBuf());
    }
    assert.equal(irqs, 70_000);
    assert.equal(out, 4 * 70_000);
    assert.equal(vq.usedIdx, 70_000 & 0xffff);
    assert.ok(!t.mmio.broken);
  });
});
