// The frame format: what passes, and why the rest is refused.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { Channel, decodeCredit, encodeCredit, HEADER_SIZE, MsgType, type Frame } from '../../src/migration/wire.js';

describe('migration wire frames', () => {
  const key = randomBytes(32);
  const pair = (encrypt = true, id = 'mig-1', k: Uint8Array = key) => ({
    source: new Channel({ id, key: k, role: 'source', encrypt }),
    destination: new Channel({ id, key: k, role: 'destination', encrypt }),
  });
  const frame = (f: Frame | string): Frame => {
    assert.ok(typeof f === 'object', `refused: ${String(f)}`);
    return f;
  };

  for (const encrypt of [true, false]) {
    it(`round-trips type, flags, sequence and body (${encrypt ? 'encrypted' : 'authenticated only'})`, () => {
      const { source, destination } = pair(encrypt);
      const body = Buffer.from('hello, the body of a frame');
      const sealed = source.encode(MsgType.Pages, 42, body, 1);
      assert.equal(sealed.subarray(HEADER_SIZE).equals(body), !encrypt, 'the body is ciphertext only when encrypted');
      const f = frame(destination.decode(sealed));
      assert.deepEqual([f.type, f.flags, f.seq, f.body.toString()], [MsgType.Pages, 1, 42, body.toString()]);
      const credit = frame(source.decode(encodeCredit(destination, 1, 7, 39)));
      assert.deepEqual(decodeCredit(credit.body), { acked: 7, limit: 39 });
    });
  }

  it('another migration, a bad magic or version, a wrong key, a flipped bit anywhere is refused', () => {
    const { source, destination } = pair();
    const good = source.encode(MsgType.State, 3, Buffer.alloc(64, 7));
    assert.equal(pair(true, 'mig-2').destination.decode(good), 'forged', 'another migration');
    assert.equal(pair(true, 'mig-1', randomBytes(32)).destination.decode(good), 'forged', 'another key');
    for (let at = 0; at < good.length; at++) {
      const bad = Buffer.from(good);
      bad[at]! ^= 0x10;
      assert.notEqual(typeof destination.decode(bad), 'object', `bit flipped at ${at}`);
    }
    assert.equal(destination.decode(good.subarray(0, good.length - 1)), 'corrupt');
    assert.equal(destination.decode(Buffer.concat([good, Buffer.alloc(1)])), 'corrupt');
    assert.equal(destination.decode(Buffer.alloc(3)), 'corrupt');
    frame(destination.decode(good));
  });

  it('a frame sent back the other way, or its bytes claimed for the other sequence space, is refused', () => {
    const { source, destination } = pair();
    const data = source.encode(MsgType.Pages, 5, Buffer.alloc(32, 1));
    assert.equal(source.decode(data), 'forged', 'reflected to its sender');
    // The same sequence number in the control space is another nonce: type rewritten, tag kept.
    const asControl = Buffer.from(data);
    asControl[5] = MsgType.Abort;
    assert.equal(destination.decode(asControl), 'forged');
    const plain = pair(false);
    const mac = plain.source.encode(MsgType.Pages, 5, Buffer.alloc(32, 1));
    assert.equal(plain.source.decode(mac), 'forged', 'reflected (HMAC)');
  });

  it('never seals a sequence number twice in a space: its nonce would repeat', () => {
    const { source } = pair();
    source.encode(MsgType.Pages, 1);
    source.encode(MsgType.Hello, 1); // the control space counts on its own
    assert.throws(() => source.encode(MsgType.End, 1), /already used/);
    assert.throws(() => source.encode(MsgType.Abort, 1), /already used/);
  });
});
