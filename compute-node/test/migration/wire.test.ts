// The frame format: what passes, and why the rest is refused.
import { strict as assert } from 'node:assert';
import {
  decode,
  encode,
  encodeCredit,
  decodeCredit,
  HEADER_SIZE,
  migrationTag,
  MsgType,
} from '../../src/migration/wire.js';

describe('migration wire frames', () => {
  const tag = migrationTag('mig-1');

  it('round-trips type, flags, sequence and body', () => {
    const f = decode(encode(MsgType.Pages, tag, 42, Buffer.from('hello'), 1), tag);
    assert.ok(typeof f === 'object');
    assert.deepEqual([f.type, f.flags, f.seq, f.body.toString()], [MsgType.Pages, 1, 42, 'hello']);
    assert.deepEqual(decodeCredit(encodeCredit(tag, 1, 7, 39).subarray(HEADER_SIZE)), { acked: 7, limit: 39 });
  });

  it('another migration, a bad magic or version is forged; any flipped bit, truncation or padding is corrupt', () => {
    const good = encode(MsgType.State, tag, 3, Buffer.alloc(64, 7));
    assert.equal(decode(good, migrationTag('mig-2')), 'forged');
    const magic = Buffer.from(good);
    magic[0] ^= 1;
    assert.equal(decode(magic, tag), 'forged');
    const version = Buffer.from(good);
    version[4] = 9;
    assert.equal(decode(version, tag), 'forged');
    for (const at of [5, 12, 16, 20, HEADER_SIZE, good.length - 1]) {
      const bad = Buffer.from(good);
      bad[at] ^= 0x10;
      assert.equal(decode(bad, tag), 'corrupt', `bit flipped at ${at}`);
    }
    assert.equal(decode(good.subarray(0, good.length - 1), tag), 'corrupt');
    assert.equal(decode(Buffer.concat([good, Buffer.alloc(1)]), tag), 'corrupt');
    assert.equal(decode(Buffer.alloc(3), tag), 'corrupt');
  });
});
