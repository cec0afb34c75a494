import assert from 'node:assert/strict';
import { Syscon, type PowerEvent } from '../../src/devices/syscon/syscon.js';
import { SYSCON_STATE_VERSION } from '../../src/devices/syscon/persist.js';
import { StateError } from '../../src/state/section.js';
import { viaJson } from './fakes.js';

function setup() {
  const events: PowerEvent[] = [];
  return { events, syscon: new Syscon((e) => events.push(e)) };
}

describe('syscon (sifive_test finisher)', () => {
  it('powers off with 0x5555, fails with code<<16|0x3333, resets with 0x7777', () => {
    const { syscon, events } = setup();
    syscon.write(0, 4, 0x5555);
    syscon.write(0, 4, (42 << 16) | 0x3333);
    syscon.write(0, 4, 0x7777);
    syscon.write(0, 2, 0x5555);
    assert.deepEqual(events, [
      { kind: 'poweroff', code: 0 },
      { kind: 'poweroff', code: 42 },
      { kind: 'reset', code: 0 },
      { kind: 'poweroff', code: 0 },
    ]);
  });

  it('ignores other values, offsets and byte stores, and reads 0', () => {
    const { syscon, events } = setup();
    syscon.write(0, 4, 0x1234);
    syscon.write(4, 4, 0x5555);
    syscon.write(0, 1, 0x55);
    assert.deepEqual(events, []);
    assert.equal(syscon.read(0, 4), 0);
  });

  it('has an empty, versioned section like every device', () => {
    const { syscon } = setup();
    const s = viaJson(syscon.saveState());
    assert.deepEqual(s, { name: 'syscon', version: SYSCON_STATE_VERSION, data: {} });
    setup().syscon.restoreState(s);
    assert.throws(() => syscon.restoreState({ ...s, version: 2 }), StateError);
    assert.throws(() => syscon.restoreState({ ...s, name: 'clint' }), StateError);
  });
});
