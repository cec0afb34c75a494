// A guest that breaks the virtqueue rules gets its device marked DEVICE_NEEDS_RESET with a
// configuration-change interrupt; the VMM never throws, and a reset brings the device back.
import assert from 'node:assert/strict';
import { BlkStatus, VirtioBlk } from '../../../src/devices/virtio/blk/blk.js';
import { bit, Feature, MmioReg, Status, VIRTIO_INT_CONFIG } from '../../../src/devices/virtio/constants.js';
import type { VirtioDevice } from '../../../src/devices/virtio/device.js';
import { VirtioInput } from '../../../src/devices/virtio/input/input.js';
import { keyboardConfig, keyPress } from '../../../src/devices/virtio/input/keyboard.js';
import { L2Switch } from '../../../src/devices/virtio/net/link.js';
import { VirtioNet } from '../../../src/devices/virtio/net/net.js';
import { VirtioRng } from '../../../src/devices/virtio/rng/rng.js';
import { DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE, type VirtqDriver } from './driver.js';
import { MemBackend } from '../../../testing/mem-backend.js';
import { BlkReq, blkRequest, plug, RAM_BASE } from './setup.js';

const RAM = 1 << 20;

function ready(device: VirtioDevice = new VirtioRng(), size = 8, drop = 0n) {
  const t = plug(device, RAM);
  const errors: string[] = [];
  t.mmio.onError = (e) => errors.push(e);
  t.drv.init(0n, { drop });
  const vq = t.drv.setupQueue(0, size);
  t.drv.driverOk();
  return { ...t, vq, errors };
}

/** Puts `head` in the available ring by hand and notifies. */
function submit(vq: VirtqDriver, head: number, count = 1): void {
  const mem = vq.mem;
  for (let k = 0; k < count; k++) {
    mem.setU16(vq.avail + 4 + 2 * ((vq.availIdxShadow + k) & (vq.num - 1)), head);
  }
  vq.availIdxShadow = (vq.availIdxShadow + count) & 0xffff;
  mem.setU16(vq.avail + 2, vq.availIdxShadow);
}

type T = ReturnType<typeof ready>;

function assertBroken(t: T, why: RegExp): void {
  assert.ok(t.drv.status & Status.DEVICE_NEEDS_RESET, 'DEVICE_NEEDS_RESET');
  assert.ok(t.drv.r(MmioReg.INTERRUPT_STATUS) & VIRTIO_INT_CONFIG, 'config interrupt');
  assert.ok(t.irq.level, 'irq raised');
  assert.ok(t.mmio.broken);
  assert.equal(t.errors.length, 1);
  assert.match(t.errors[0]!, why);
  // Broken: further notifies are ignored.
  const used = t.vq.usedIdx;
  t.drv.notify(0);
  assert.equal(t.vq.usedIdx, used);
  // DRIVER_OK written again keeps NEEDS_RESET set.
  t.drv.w(MmioReg.STATUS, t.drv.status | Status.DRIVER_OK);
  assert.ok(t.drv.status & Status.DEVICE_NEEDS_RESET);
}

/** After a reset the device works again. */
function assertRecovers(t: T): void {
  t.drv.reset();
  assert.equal(t.drv.status, 0);
  assert.ok(!t.mmio.broken);
  assert.ok(!t.irq.level);
  t.drv.init(0n);
  const vq = t.drv.setupQueue(0, 8);
  t.drv.driverOk();
  if (t.mmio.device instanceof VirtioRng) {
    vq.add([], [{ addr: t.mem.alloc(16), len: 16 }]);
    vq.kick();
    assert.equal(vq.getBuf()?.len, 16);
  }
}

const OUTSIDE = RAM_BASE + RAM; // first byte past RAM

describe('virtio: bad guest input marks the device broken, never throws', () => {
  it('a buffer outside guest RAM (past the end, below the base, straddling the end, above 4 GiB)', () => {
    const cases: Array<[number, number, number]> = [
      [OUTSIDE, 16, 0],
      [0x1000_0000, 16, 0],
      [OUTSIDE - 8, 16, 0],
      [RAM_BASE, 16, 1],
      [RAM_BASE, 0xffff_ffff, 0],
    ];
    for (const [addr, len, hi] of cases) {
      const t = ready();
      t.mem.setDesc(t.vq.desc, 0, addr, len, DESC_F_WRITE, 0, hi);
      submit(t.vq, 0);
      assert.doesNotThrow(() => t.drv.notify(0));
      assertBroken(t, /outside guest RAM/);
      assert.equal(t.vq.usedIdx, 0, 'nothing was completed');
      assertRecovers(t);
    }
  });

  it('a descriptor chain that loops', () => {
    const t = ready();
    const buf = t.mem.alloc(64);
    t.mem.setDesc(t.vq.desc, 0, buf, 8, DESC_F_WRITE | DESC_F_NEXT, 1);
    t.mem.setDesc(t.vq.desc, 1, buf, 8, DESC_F_WRITE | DESC_F_NEXT, 2);
    t.mem.setDesc(t.vq.desc, 2, buf, 8, DESC_F_WRITE | DESC_F_NEXT, 0);
    submit(t.vq, 0);
    t.drv.notify(0);
    assertBroken(t, /loops or is longer than the queue/);
    assertRecovers(t);
  });

  it('a descriptor chain that points at itself', () => {
    const t = ready();
    t.mem.setDesc(t.vq.desc, 3, t.mem.alloc(8), 8, DESC_F_WRITE | DESC_F_NEXT, 3);
    submit(t.vq, 3);
    t.drv.notify(0);
    assertBroken(t, /loops/);
  });

  it('a chain in an indirect table that loops or runs longer than the table', () => {
    const t = ready();
    const buf = t.mem.alloc(64);
    const table = t.mem.alloc(16 * 4);
    for (let i = 0; i < 4; i++) t.mem.setDesc(table, i, buf, 8, DESC_F_WRITE | DESC_F_NEXT, (i + 1) % 4);
    t.mem.setDesc(t.vq.desc, 0, table, 64, DESC_F_INDIRECT, 0);
    submit(t.vq, 0);
    t.drv.notify(0);
    assertBroken(t, /longer than its indirect table/);
  });

  it('a nested indirect table', () => {
    const t = ready();
    const inner = t.mem.alloc(16);
    t.mem.setDesc(inner, 0, t.mem.alloc(8), 8, DESC_F_WRITE, 0);
    const outer = t.mem.alloc(32);
    t.mem.setDesc(outer, 0, t.mem.alloc(8), 8, DESC_F_WRITE | DESC_F_NEXT, 1);
    t.mem.setDesc(outer, 1, inner, 16, DESC_F_INDIRECT, 0);
    t.mem.setDesc(t.vq.desc, 0, outer, 32, DESC_F_INDIRECT, 0);
    submit(t.vq, 0);
    t.drv.notify(0);
    assertBroken(t, /nested indirect/);
    assertRecovers(t);
  });

  it('an indirect table outside RAM, of a bad length, with NEXT, or not negotiated', () => {
    const bad: Array<[string, (t: T) => void, RegExp, bigint?]> = [
      ['outside', (t) => t.mem.setDesc(t.vq.desc, 0, OUTSIDE - 16, 32, DESC_F_INDIRECT, 0), /outside guest RAM/],
      ['length 24', (t) => t.mem.setDesc(t.vq.desc, 0, t.mem.alloc(32), 24, DESC_F_INDIRECT, 0), /multiple of 16/],
      [
        'too large',
        (t) => t.mem.setDesc(t.vq.desc, 0, t.mem.alloc(16 * 1025), 16 * 1025, DESC_F_INDIRECT, 0),
        /1025 entries/,
      ],
      ['length 0', (t) => t.mem.setDesc(t.vq.desc, 0, t.mem.alloc(32), 0, DESC_F_INDIRECT, 0), /multiple of 16/],
      [
        'with NEXT',
        (t) => t.mem.setDesc(t.vq.desc, 0, t.mem.alloc(32), 32, DESC_F_INDIRECT | DESC_F_NEXT, 1),
        /with NEXT/,
      ],
      [
        'not negotiated',
        (t) => t.mem.setDesc(t.vq.desc, 0, t.mem.alloc(32), 32, DESC_F_INDIRECT, 0),
        /without VIRTIO_F_INDIRECT_DESC/,
        bit(Feature.INDIRECT_DESC),
      ],
    ];
    for (const [name, build, why, drop] of bad) {
      const t = ready(new VirtioRng(), 8, drop ?? 0n);
      build(t);
      submit(t.vq, 0);
      assert.doesNotThrow(() => t.drv.notify(0), name);
      assertBroken(t, why);
    }
  });

  it('(not an error) an indirect table longer than the queue, as virtio-blk sends with seg_max', () => {
    const t = ready();
    const n = 300;
    const table = t.mem.alloc(16 * n);
    const buf = t.mem.alloc(n);
    for (let i = 0; i < n; i++)
      t.mem.setDesc(table, i, buf + i, 1, DESC_F_WRITE | (i < n - 1 ? DESC_F_NEXT : 0), i + 1);
    t.mem.setDesc(t.vq.desc, 0, table, 16 * n, DESC_F_INDIRECT, 0);
    submit(t.vq, 0);
    t.drv.notify(0);
    assert.ok(!t.mmio.broken);
    assert.equal(t.mem.u32(t.vq.used + 8), n, 'used len covers all 300 buffers');
  });

  it('an available index that jumps by more than the queue size', () => {
    const t = ready();
    t.mem.setDesc(t.vq.desc, 0, t.mem.alloc(8), 8, DESC_F_WRITE, 0);
    submit(t.vq, 0, 9); // 9 > 8 entries at once
    t.drv.notify(0);
    assertBroken(t, /available index moved by 9/);
    assertRecovers(t);
  });

  it('a head or next index outside the queue', () => {
    const t = ready();
    submit(t.vq, 8);
    t.drv.notify(0);
    assertBroken(t, /head descriptor 8/);
    const u = ready();
    u.mem.setDesc(u.vq.desc, 0, u.mem.alloc(8), 8, DESC_F_WRITE | DESC_F_NEXT, 200);
    submit(u.vq, 0);
    u.drv.notify(0);
    assertBroken(u, /next descriptor 200/);
  });

  it('a readable descriptor after a writable one', () => {
    const t = ready();
    const buf = t.mem.alloc(16);
    t.mem.setDesc(t.vq.desc, 0, buf, 8, DESC_F_WRITE | DESC_F_NEXT, 1);
    t.mem.setDesc(t.vq.desc, 1, buf + 8, 8, 0, 0);
    submit(t.vq, 0);
    t.drv.notify(0);
    assertBroken(t, /readable descriptor after a device-writable/);
  });

  for (const size of [3, 6, 0, 512]) {
    it(`a queue size of ${size}`, () => {
      const t = plug(new VirtioRng(), RAM);
      const errors: string[] = [];
      t.mmio.onError = (e) => errors.push(e);
      t.drv.init(0n);
      assert.doesNotThrow(() => t.drv.setupQueue(0, size));
      assert.equal(t.drv.r(MmioReg.QUEUE_READY), 0, 'the queue did not start');
      assert.ok(t.drv.status & Status.DEVICE_NEEDS_RESET);
      assert.ok(t.irq.level);
      assert.match(errors[0]!, new RegExp(`queue size ${size} is not a power of 2`));
      t.drv.notify(0);
    });
  }

  it('rings outside guest RAM', () => {
    for (const reg of [
      MmioReg.QUEUE_DESC_LOW,
      MmioReg.QUEUE_DRIVER_LOW,
      MmioReg.QUEUE_DEVICE_LOW,
      MmioReg.QUEUE_DESC_HIGH,
    ]) {
      const t = plug(new VirtioRng(), RAM);
      t.drv.init(0n);
      t.drv.w(MmioReg.QUEUE_SEL, 0);
      t.drv.w(MmioReg.QUEUE_NUM, 8);
      const base = t.mem.alloc(0x400);
      t.drv.w(MmioReg.QUEUE_DESC_LOW, base);
      t.drv.w(MmioReg.QUEUE_DRIVER_LOW, base + 0x100);
      t.drv.w(MmioReg.QUEUE_DEVICE_LOW, base + 0x200);
      t.drv.w(reg, reg === MmioReg.QUEUE_DESC_HIGH ? 1 : OUTSIDE - 4);
      assert.doesNotThrow(() => t.drv.w(MmioReg.QUEUE_READY, 1));
      assert.equal(t.drv.r(MmioReg.QUEUE_READY), 0);
      assert.ok(t.drv.status & Status.DEVICE_NEEDS_RESET, `register 0x${reg.toString(16)}`);
    }
  });

  it('a virtio-blk request without header or status byte', () => {
    const t = ready(new VirtioBlk(new MemBackend(1 << 16)));
    const hdr = t.mem.alloc(16);
    t.vq.add([{ addr: hdr, len: 16 }], []); // no status byte
    t.vq.kick();
    assertBroken(t, /virtio-blk request without a header or a status byte/);
    const u = ready(new VirtioBlk(new MemBackend(1 << 16)));
    u.vq.add([{ addr: u.mem.alloc(8), len: 8 }], [{ addr: u.mem.alloc(1), len: 1 }]); // header too short
    u.vq.kick();
    assertBroken(u, /virtio-blk/);
    u.drv.reset();
    u.drv.init(0n);
    const vq = u.drv.setupQueue(0, 8);
    u.drv.driverOk();
    assert.equal(blkRequest(vq, BlkReq.IN, 0, { inLen: 512 }).status, BlkStatus.OK);
  });

  it('a virtio-net transmit buffer shorter than the header', () => {
    const t = ready(new VirtioNet({ mac: '52:54:00:00:00:01', backend: new L2Switch().connect() }));
    const tx = t.drv.setupQueue(1, 8);
    tx.add([{ addr: t.mem.alloc(6), len: 6 }], []);
    tx.kick();
    assert.ok(t.mmio.broken);
    assert.match(t.errors[0]!, /shorter than its header/);
  });

  it('virtio-input: a bad event ring found by a key press, a looping status chain', () => {
    const t = ready(new VirtioInput(keyboardConfig()));
    const keyboard = t.mmio.device as VirtioInput;
    t.mem.setDesc(t.vq.desc, 0, OUTSIDE, 8, DESC_F_WRITE, 0);
    submit(t.vq, 0);
    t.drv.notify(0); // no events yet: the ring is not walked
    assert.ok(!t.mmio.broken);
    assert.doesNotThrow(() => keyboard.send(keyPress([30])));
    assertBroken(t, /outside guest RAM/);
    assert.doesNotThrow(() => keyboard.send(keyPress([30])), 'more keys on a broken device');
    assertRecovers(t);

    const u = ready(new VirtioInput(keyboardConfig()));
    const sts = u.drv.setupQueue(1, 8);
    const buf = u.mem.alloc(8);
    u.mem.setDesc(sts.desc, 0, buf, 8, DESC_F_NEXT, 1);
    u.mem.setDesc(sts.desc, 1, buf, 8, DESC_F_NEXT, 0);
    submit(sts, 0);
    assert.doesNotThrow(() => u.drv.notify(1));
    assertBroken(u, /loops/);
  });

  it('host-side work on a broken device is ignored too', () => {
    const sw = new L2Switch();
    const net = new VirtioNet({ mac: '52:54:00:00:00:01', backend: sw.connect() });
    const t = ready(net);
    submit(t.vq, 9);
    t.drv.notify(0); // the RX queue is only read when a frame comes: nothing yet
    assert.ok(!t.mmio.broken);
    const other = sw.connect();
    assert.doesNotThrow(() => other.send(new Uint8Array(60).fill(0xff)));
    assert.ok(t.mmio.broken, 'the frame made the device look at the bad ring');
    assert.doesNotThrow(() => other.send(new Uint8Array(60).fill(0xff)));
    assert.equal(t.errors.length, 1);
  });
});
