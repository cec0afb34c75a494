// Frames between VM processes: the socket backend of `--net ...,link=unix:PATH`, through the
// hub and back to back, with QEMU's length-prefixed framing, reconnection, and bad peers.
import { strict as assert } from 'node:assert';
import { connect } from 'node:net';
import { join } from 'node:path';
import { FrameReader, NetHub, SocketNetBackend } from '../../src/vmm/net-socket.js';
import { sleep, tempDir } from '../../testing/harness.js';

/** An Ethernet frame from `src` to `dst` (last MAC bytes) carrying `text`. */
function frame(dst: number, src: number, text: string): Uint8Array {
  const f = Buffer.alloc(14 + text.length);
  Buffer.from([0x52, 0x54, 0, 0x12, 0x34, dst]).copy(f, 0);
  Buffer.from([0x52, 0x54, 0, 0x12, 0x34, src]).copy(f, 6);
  f.writeUInt16BE(0x88b5, 12);
  f.write(text, 14, 'latin1');
  return f;
}

const BROADCAST = 0xff;

function inbox(b: SocketNetBackend): string[] {
  const got: string[] = [];
  b.onReceive((f) => got.push(Buffer.from(f).subarray(14).toString('latin1')));
  return got;
}

async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(10);
  }
}

describe('VM network sockets', function () {
  this.timeout(30_000);
  const tmp = tempDir('net');
  after(() => tmp.remove());

  it('a hub floods broadcasts, learns MACs and forwards unicast to one port only', async () => {
    const path = join(tmp.dir, 'hub.sock');
    const hub = await NetHub.listen(path);
    const [a, b, c] = [1, 2, 3].map(() => SocketNetBackend.connect(path)) as [
      SocketNetBackend,
      SocketNetBackend,
      SocketNetBackend,
    ];
    const [ia, ib, ic] = [inbox(a), inbox(b), inbox(c)];
    await eventually(() => hub.portCount === 3 && a.connected && b.connected && c.connected, 'three ports');
    a.send(frame(BROADCAST, 1, 'hello all'));
    await eventually(() => ib.length === 1 && ic.length === 1, 'broadcast');
    b.send(frame(1, 2, 'to a')); // a's MAC was learnt from its broadcast
    await eventually(() => ia.length === 1, 'unicast');
    await sleep(50);
    assert.deepEqual([ia, ib, ic], [['to a'], ['hello all'], ['hello all']]);
    for (const x of [a, b, c]) x.close();
    hub.close();
  });

  it('two VMs back to back: one listens, the other connects (and reconnects after the listener restarts)', async () => {
    const path = join(tmp.dir, 'p2p.sock');
    const dialer = SocketNetBackend.connect(path); // before the listener exists: it retries
    const got = inbox(dialer);
    let listener = await SocketNetBackend.listen(path);
    let heard = inbox(listener);
    await eventually(() => dialer.connected && listener.connected, 'connected');
    dialer.send(frame(1, 2, 'ping'));
    await eventually(() => heard.length === 1, 'ping');
    listener.send(frame(2, 1, 'pong'));
    await eventually(() => got.length === 1, 'pong');
    assert.deepEqual([heard, got], [['ping'], ['pong']]);

    listener.close();
    await eventually(() => !dialer.connected, 'listener gone');
    dialer.send(frame(1, 2, 'into the void'));
    assert.equal(dialer.dropped, 1, 'no peer: the frame is dropped, as on an unplugged cable');
    listener = await SocketNetBackend.listen(path);
    heard = inbox(listener);
    await eventually(() => dialer.connected, 'reconnected');
    dialer.send(frame(1, 2, 'back'));
    await eventually(() => heard.length === 1, 'after reconnect');
    dialer.close();
    listener.close();
  });

  it('speaks QEMU’s stream framing (4-byte big-endian length) and drops a peer that sends an oversized frame', async () => {
    const path = join(tmp.dir, 'raw.sock');
    const listener = await SocketNetBackend.listen(path);
    const heard = inbox(listener);
    const peer = connect(path);
    const fromUs: Uint8Array[] = [];
    const reader = new FrameReader(
      (f) => fromUs.push(Buffer.from(f)),
      () => {},
    );
    peer.on('data', (d: Buffer) => reader.push(d));
    await eventually(() => listener.connected, 'peer connected');
    const f = frame(1, 2, 'raw');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(f.length);
    // Split across writes, mid-header and mid-frame.
    const wire = Buffer.concat([head, f]);
    peer.write(wire.subarray(0, 2));
    await sleep(20);
    peer.write(wire.subarray(2, 9));
    await sleep(20);
    peer.write(wire.subarray(9));
    await eventually(() => heard.length === 1, 'framed frame');
    listener.send(frame(2, 1, 'reply'));
    await eventually(() => fromUs.length === 1, 'reply');
    assert.equal(Buffer.from(fromUs[0]!).subarray(14).toString(), 'reply');
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(1 << 20);
    peer.write(huge);
    await eventually(() => !listener.connected, 'bad peer dropped');
    peer.destroy();
    listener.close();
  });
});
