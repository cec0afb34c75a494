// How an endpoint hands frames to nats.js: in place (one buffer, no copy) when it can.
import { strict as assert } from 'node:assert';
import type { NatsConnection } from 'nats';
import { Endpoint, sizeReceiveBuffers } from '../../src/migration/transport.js';
import { randomBytes } from 'node:crypto';
import { Channel, MsgType } from '../../src/migration/wire.js';
import { harness, natsConnection } from './rig.js';

describe('migration transport', () => {
  const key = randomBytes(32);
  const source = new Channel({ id: 'mig-t', key, role: 'source' });
  const destination = new Channel({ id: 'mig-t', key, role: 'destination' });

  /** The parts of a nats.js connection the endpoint uses, recording what it is given. */
  function fakeNats() {
    const commands: Uint8Array[] = [];
    const published: Uint8Array[] = [];
    const protocol = {
      sendCommand: (b: Uint8Array) => void commands.push(b),
      noMorePublishing: false,
      outMsgs: 0,
      outBytes: 0,
    };
    const nc = {
      protocol,
      info: { max_payload: 1 << 20 },
      isClosed: () => false,
      publish: (_subject: string, data: Uint8Array) => void published.push(Buffer.from(data)),
    };
    return { nc: nc as unknown as NatsConnection, commands, published, protocol };
  }

  it('sends a sealed frame as one buffer, PUB line and CRLF written around it, without a copy', () => {
    const f = fakeNats();
    const e = new Endpoint(
      f.nc,
      { prefix: 'p', channel: source },
      () => {},
      (err) => assert.fail(err),
    );
    const frame = source.encode(MsgType.Pages, 1, Buffer.alloc(5000, 7));
    e.send(frame);
    assert.equal(f.published.length, 0);
    assert.equal(f.commands.length, 1);
    const message = f.commands[0]!;
    assert.equal(message.buffer, frame.buffer, 'the frame itself, not a copy');
    const line = `PUB p.data ${frame.length}\r\n`;
    assert.deepEqual(Buffer.from(message), Buffer.concat([Buffer.from(line), frame, Buffer.from('\r\n')]));
    assert.deepEqual([f.protocol.outMsgs, f.protocol.outBytes, e.bytesSent], [1, frame.length, frame.length]);
  });

  it('publishes anything else the ordinary way: other bytes, part of a frame, or a connection draining', () => {
    const f = fakeNats();
    const e = new Endpoint(
      f.nc,
      { prefix: 'p', channel: destination },
      () => {},
      (err) => assert.fail(err),
    );
    const frame = destination.encode(MsgType.Credit, 1, Buffer.alloc(8));
    const copy = Buffer.from(frame);
    e.send(copy);
    const part = frame.subarray(0, frame.length - 1);
    e.send(part);
    f.protocol.noMorePublishing = true;
    e.send(frame);
    assert.equal(f.commands.length, 0);
    assert.deepEqual(f.published, [copy, Buffer.from(part), frame]);
    assert.deepEqual(frame, copy, 'nothing written into the frame');
  });

  it('has nats.js gather a message that spans socket reads in one buffer of its size (real nats-server)', async function () {
    this.timeout(30_000);
    const nats = await (await harness()).startNats();
    const [a, b] = [await natsConnection(nats.url, 'a'), await natsConnection(nats.url, 'b')];
    try {
      assert.equal(
        sizeReceiveBuffers(b),
        true,
        'nats.js internals as expected (check sizeReceiveBuffers when upgrading nats.js)',
      );
      const size = 512 * 1024;
      const got: Uint8Array[] = [];
      b.subscribe('big', { callback: (_e, m) => void got.push(m.data) });
      await b.flush();
      const sent = Array.from({ length: 4 }, (_, i) => Buffer.alloc(size, i + 1));
      for (const m of sent) a.publish('big', m);
      await a.flush();
      for (let i = 0; got.length < sent.length; i++) {
        assert.ok(i < 500, `${got.length} of ${sent.length} messages`);
        await new Promise((r) => setTimeout(r, 10));
      }
      got.forEach((m, i) => assert.deepEqual(Buffer.from(m), sent[i]));
      // Grown by doubling, the last buffer of a 512 KiB message is about 700 KiB; sized, it is the
      // message plus what its first socket read held (at most 64 KiB).
      for (const m of got)
        assert.ok(m.buffer.byteLength <= size + 64 * 1024, `gathered in ${m.buffer.byteLength} bytes`);
    } finally {
      await a.close();
      await b.close();
      await nats.stop();
    }
  });

  it('leaves a connection without the expected nats.js internals alone', () => {
    assert.equal(sizeReceiveBuffers({} as NatsConnection), false);
    assert.equal(sizeReceiveBuffers({ protocol: { parser: {} } } as unknown as NatsConnection), false);
  });
});
