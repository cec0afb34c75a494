import assert from 'node:assert/strict';
import {
  bit,
  DeviceId,
  MmioReg,
  Status,
  VIRTIO_INT_CONFIG,
  VIRTIO_INT_VRING,
} from '../../../src/devices/virtio/constants.js';
import { formatMac, parseMac, type NetBackend } from '../../../src/devices/virtio/net/backend.js';
import { L2Switch } from '../../../src/devices/virtio/net/link.js';
import { NET_HDR_SIZE, NetFeature, VirtioNet } from '../../../src/devices/virtio/net/net.js';
import { plug } from './setup.js';

const RX_BUF = NET_HDR_SIZE + 1514; // what Linux posts without mergeable buffers (GOOD_PACKET_LEN)

/** A guest with a virtio-net NIC, driven like Linux's virtio_net with small receive buffers. */
function nic(backend: NetBackend, mac: string, opts: { rxPendingLimit?: number; rxBuf?: number } = {}) {
  const dev = new VirtioNet({ mac, backend, rxPendingLimit: opts.rxPendingLimit });
  const t = plug(dev, 1 << 21);
  t.drv.init(bit(NetFeature.MAC) | bit(NetFeature.STATUS));
  const rx = t.drv.setupQueue(0, 32);
  const tx = t.drv.setupQueue(1, 32);
  t.drv.driverOk();
  const rxAddr = new Map<number, number>();
  const post = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const addr = t.mem.alloc(opts.rxBuf ?? RX_BUF);
      rxAddr.set(rx.add([], [{ addr, len: opts.rxBuf ?? RX_BUF }]), addr);
    }
    rx.kick();
  };
  /** Sends a frame; `split` puts the header in its own descriptor, as older drivers do. */
  const send = (frame: Uint8Array, split = false): void => {
    const hdr = new Uint8Array(NET_HDR_SIZE);
    if (split)
      tx.add(
        [
          { addr: t.mem.put(hdr), len: NET_HDR_SIZE },
          { addr: t.mem.put(frame), len: frame.length },
        ],
        [],
      );
    else tx.add([{ addr: t.mem.put(Buffer.concat([hdr, frame])), len: NET_HDR_SIZE + frame.length }], []);
    tx.kick();
    while (tx.getBuf());
  };
  /** Frames the guest has received (header checked and stripped). */
  const received = (): Uint8Array[] => {
    const out: Uint8Array[] = [];
    for (let u = rx.getBuf(); u; u = rx.getBuf()) {
      const addr = rxAddr.get(u.head)!;
      if (u.len === 0) continue;
      const hdr = t.mem.read(addr, NET_HDR_SIZE);
      assert.deepEqual(hdr, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0), 'virtio_net_hdr v1 with num_buffers 1');
      out.push(t.mem.read(addr + NET_HDR_SIZE, u.len - NET_HDR_SIZE));
    }
    return out;
  };
  return { ...t, dev, rx, tx, post, send, received };
}

function frame(dst: string, src: string, payload: string, type = 0x88b5): Uint8Array {
  const body = new TextEncoder().encode(payload);
  const f = new Uint8Array(14 + Math.max(46, body.length));
  f.set(parseMac(dst.startsWith('ff') ? '00:00:00:00:00:00' : dst));
  if (dst.startsWith('ff')) f.fill(0xff, 0, 6);
  f.set(parseMac(src), 6);
  f[12] = type >> 8;
  f[13] = type & 0xff;
  f.set(body, 14);
  return f;
}

const MAC_A = '52:54:00:00:00:0a';
const MAC_B = '52:54:00:00:00:0b';

describe('virtio-net', () => {
  it('is device 1 with the configured MAC and link up in its config', () => {
    const t = nic(new L2Switch().connect(), MAC_A);
    assert.equal(t.drv.r(MmioReg.DEVICE_ID), DeviceId.NET);
    const mac = Uint8Array.from({ length: 6 }, (_, i) => t.mmio.read(MmioReg.CONFIG + i, 1));
    assert.equal(formatMac(mac), MAC_A);
    assert.equal(t.mmio.read(MmioReg.CONFIG + 6, 2), 1);
    assert.ok(t.drv.features & bit(NetFeature.MAC));
    assert.ok(t.drv.features & bit(NetFeature.STATUS));
  });

  it('rejects malformed or multicast MAC addresses', () => {
    const backend = new L2Switch().connect();
    assert.throws(() => new VirtioNet({ mac: '52:54:00:00:00', backend }), RangeError);
    assert.throws(() => new VirtioNet({ mac: '01:00:5e:00:00:01', backend }), /multicast/);
    assert.equal(formatMac(parseMac('52-54-00-AB-CD-EF')), '52:54:00:ab:cd:ef');
  });

  it('carries frames between two VMs over the in-process link, both ways', () => {
    const sw = new L2Switch();
    const a = nic(sw.connect(), MAC_A);
    const b = nic(sw.connect(), MAC_B);
    a.post(8);
    b.post(8);
    const hello = frame('ff:ff:ff:ff:ff:ff', MAC_A, 'who has B?');
    a.send(hello);
    assert.ok(b.irq.level);
    assert.equal(b.drv.interrupt(), VIRTIO_INT_VRING);
    assert.deepEqual(b.received(), [hello]);
    assert.deepEqual(a.received(), [], 'no echo to the sender');
    const reply = frame(MAC_A, MAC_B, 'B is here', 0x0800);
    b.send(reply, true);
    assert.ok(a.irq.level);
    assert.deepEqual(a.received(), [reply]);
    // Many frames, both directions, more than the buffers posted at once.
    const ab = Array.from({ length: 20 }, (_, i) => frame(MAC_B, MAC_A, `a->b ${i}`));
    const ba = Array.from({ length: 20 }, (_, i) => frame(MAC_A, MAC_B, `b->a ${i}`));
    const gotA: Uint8Array[] = [];
    const gotB: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) {
      a.send(ab[i]!);
      b.send(ba[i]!);
      gotA.push(...a.received());
      gotB.push(...b.received());
      a.post(1);
      b.post(1);
    }
    assert.deepEqual(gotB, ab);
    assert.deepEqual(gotA, ba);
    assert.deepEqual(a.dev.stats, { rxFrames: 21, rxDropped: 0, txFrames: 21, txDropped: 0 });
  });

  it('sends a full-size 1514-byte frame and receives it whole', () => {
    const sw = new L2Switch();
    const a = nic(sw.connect(), MAC_A);
    const b = nic(sw.connect(), MAC_B);
    b.post(1);
    const big = frame(MAC_B, MAC_A, 'x'.repeat(1500));
    assert.equal(big.length, 1514);
    a.send(big);
    assert.deepEqual(b.received(), [big]);
  });

  it('keeps frames that arrive before the guest posts buffers, delivering them on the kick', () => {
    const sw = new L2Switch();
    const port = sw.connect();
    const b = nic(sw.connect(), MAC_B);
    const frames = [1, 2, 3].map((i) => frame(MAC_B, MAC_A, `early ${i}`));
    for (const f of frames) port.send(f);
    assert.equal(b.dev.rxPending.length, 3);
    assert.ok(!b.irq.level);
    b.post(2);
    assert.ok(b.irq.level);
    assert.deepEqual(b.received(), frames.slice(0, 2));
    b.post(2);
    assert.deepEqual(b.received(), frames.slice(2));
    assert.equal(b.dev.rxPending.length, 0);
  });

  it('bounds the frames it holds, dropping the newest when full', () => {
    const sw = new L2Switch();
    const port = sw.connect();
    const b = nic(sw.connect(), MAC_B, { rxPendingLimit: 4 });
    const frames = Array.from({ length: 6 }, (_, i) => frame(MAC_B, MAC_A, `f${i}`));
    for (const f of frames) port.send(f);
    assert.equal(b.dev.stats.rxDropped, 2);
    b.post(8);
    assert.deepEqual(b.received(), frames.slice(0, 4));
  });

  it('returns a receive buffer too small for the frame empty and drops the frame', () => {
    const sw = new L2Switch();
    const port = sw.connect();
    const b = nic(sw.connect(), MAC_B, { rxBuf: 100 });
    b.post(2);
    port.send(frame(MAC_B, MAC_A, 'y'.repeat(200)));
    port.send(frame(MAC_B, MAC_A, 'small'));
    assert.equal(b.received().length, 1);
    assert.equal(b.dev.stats.rxDropped, 1);
    assert.ok(!b.mmio.broken);
  });

  it('drops traffic while the link is down, telling the guest by a config interrupt', () => {
    const sw = new L2Switch();
    const port = sw.connect();
    const seen: Uint8Array[] = [];
    port.onReceive((f) => seen.push(f));
    const b = nic(sw.connect(), MAC_B);
    b.post(4);
    b.dev.setLinkUp(false);
    assert.equal(b.drv.interrupt(), VIRTIO_INT_CONFIG);
    assert.equal(b.mmio.read(MmioReg.CONFIG + 6, 2), 0);
    port.send(frame(MAC_B, MAC_A, 'lost'));
    b.send(frame(MAC_A, MAC_B, 'lost too'));
    assert.deepEqual(b.received(), []);
    assert.deepEqual(seen, []);
    b.dev.setLinkUp(true);
    b.send(frame(MAC_A, MAC_B, 'back'));
    assert.equal(seen.length, 1);
  });

  it('handles a frame that comes back while it is still transmitting (synchronous echo backend)', () => {
    let cb: ((f: Uint8Array) => void) | undefined;
    const echo: NetBackend = {
      send: (f) => cb?.(f),
      onReceive: (c) => (cb = c),
    };
    const a = nic(echo, MAC_A);
    a.post(4);
    const f1 = frame(MAC_A, MAC_A, 'one');
    const f2 = frame(MAC_A, MAC_A, 'two');
    a.tx.add([{ addr: a.mem.put(Buffer.concat([new Uint8Array(12), f1])), len: 12 + f1.length }], []);
    a.tx.add([{ addr: a.mem.put(Buffer.concat([new Uint8Array(12), f2])), len: 12 + f2.length }], []);
    a.tx.kick();
    assert.deepEqual(a.received(), [f1, f2]);
    assert.ok(!a.mmio.broken);
  });

  it('survives a backend that throws on send', () => {
    const bad: NetBackend = {
      send: () => {
        throw new Error('network unreachable');
      },
      onReceive: () => {},
    };
    const a = nic(bad, MAC_A);
    a.send(frame(MAC_B, MAC_A, 'x'));
    assert.equal(a.dev.stats.txDropped, 1);
    assert.equal(a.drv.status & Status.DEVICE_NEEDS_RESET, 0);
  });

  it('forgets frames held for the guest when the device is reset', () => {
    const sw = new L2Switch();
    const port = sw.connect();
    const b = nic(sw.connect(), MAC_B);
    port.send(frame(MAC_B, MAC_A, 'stale'));
    assert.equal(b.dev.rxPending.length, 1);
    b.drv.reset();
    assert.equal(b.dev.rxPending.length, 0);
  });
});

describe('L2 switch', () => {
  it('learns source addresses, forwards unicast to one port and floods the rest', () => {
    const sw = new L2Switch();
    const ports = [0, 1, 2].map(() => sw.connect());
    const got: Uint8Array[][] = ports.map(() => []);
    ports.forEach((p, i) => p.onReceive((f) => got[i]!.push(f)));
    const macs = ['52:54:00:00:00:01', '52:54:00:00:00:02', '52:54:00:00:00:03'];
    // Unknown destination: flooded.
    ports[0]!.send(frame(macs[1]!, macs[0]!, 'unknown'));
    assert.deepEqual(
      got.map((g) => g.length),
      [0, 1, 1],
    );
    // 0 is learnt; 1 answers unicast: only 0 sees it.
    ports[1]!.send(frame(macs[0]!, macs[1]!, 'to 0'));
    assert.deepEqual(
      got.map((g) => g.length),
      [1, 1, 1],
    );
    // 1 is learnt now too.
    ports[0]!.send(frame(macs[1]!, macs[0]!, 'to 1'));
    assert.deepEqual(
      got.map((g) => g.length),
      [1, 2, 1],
    );
    // Broadcast and multicast go everywhere but the sender.
    ports[2]!.send(frame('ff:ff:ff:ff:ff:ff', macs[2]!, 'all'));
    const mc = frame(macs[0]!, macs[2]!, 'mc');
    mc.set([0x01, 0x00, 0x5e, 0, 0, 1]);
    ports[2]!.send(mc);
    assert.deepEqual(
      got.map((g) => g.length),
      [3, 4, 1],
    );
    // Runts are dropped.
    ports[0]!.send(new Uint8Array(10));
    assert.deepEqual(
      got.map((g) => g.length),
      [3, 4, 1],
    );
  });

  it('forgets a disconnected port', () => {
    const sw = new L2Switch();
    const [p0, p1, p2] = [sw.connect(), sw.connect(), sw.connect()];
    let n2 = 0;
    p2.onReceive(() => n2++);
    p1.send(frame(MAC_A, MAC_B, 'learn B on p1'));
    p1.disconnect();
    assert.equal(sw.portCount, 2);
    p0.send(frame(MAC_B, MAC_A, 'to B, now unknown'));
    assert.equal(n2, 2, 'flooded since B is forgotten');
    p1.send(frame(MAC_A, MAC_B, 'from an unplugged port'));
    assert.equal(n2, 2);
  });
});
