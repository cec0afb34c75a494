// What the fuzzers found, each pinned down: damaged input that made the VMM throw something
// other than its own error.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { BlockError, openDisk, Qcow2 } from '../../src/block/index.js';
import { StateError } from '../../src/state/section.js';
import { decodeDeviceState, encodeDeviceState, encodeSnapshot } from '../../src/state/snapshot.js';
import { tempDir } from '../../testing/block.js';
import { Board } from '../../testing/fuzz-board.js';
import { Rng } from '../../testing/block.js';

describe('fuzz regressions', () => {
  const board = (): Board => new Board(new Rng(1));

  it('a snapshot whose machine config is null is refused (was a TypeError)', () => {
    const b = board();
    const header = decodeDeviceState(b.machine.saveDeviceState());
    const bad = encodeSnapshot({ ...header, config: null as never }, b.machine.ram);
    assert.throws(
      () => b.machine.restoreState(bad),
      (e) => e instanceof StateError && /malformed/.test(e.message),
    );
  });

  it('a section whose data is not an object, or a virtqueue entry that is null, is refused (was a TypeError)', () => {
    const b = board();
    const m = b.machine;
    const good = m.saveState();
    const header = decodeDeviceState(m.saveDeviceState());
    const cases = header.sections.map((_, i) => ({ i, data: null as unknown, why: /state is not an object/ }));
    const slot = header.sections.findIndex((s) => s.name.startsWith('virtio_mmio'));
    const data = header.sections[slot]!.data as { queues: unknown[] };
    cases.push({ i: slot, data: { ...data, queues: data.queues.map(() => null) }, why: /bad ring addresses/ });
    for (const { i, data, why } of cases) {
      const sections = header.sections.map((s, k) => (k === i ? { ...s, data } : s));
      const bad = encodeDeviceState({ ...header, sections });
      assert.throws(
        () => m.restoreDeviceState(bad),
        (e) => e instanceof StateError && why.test(e.message),
      );
      assert.ok(m.saveState().equals(good), `section ${header.sections[i]!.name}: the machine is unchanged`);
      b.run();
      m.restoreState(good);
    }
  });

  it('a qcow2 image whose backing file is a directory is refused with a BlockError (was EISDIR)', () => {
    const tmp = tempDir();
    try {
      mkdirSync(tmp.path('dir'));
      Qcow2.create(tmp.path('top.qcow2'), { size: 1 << 20, backingFile: tmp.path('dir') });
      assert.throws(
        () => openDisk(tmp.path('top.qcow2')),
        (e) => e instanceof BlockError && e.code === 'EIO' && /cannot read/.test(e.message),
      );
    } finally {
      tmp.remove();
    }
  });
});
