// A disk and a plain in-memory reference of what it must read as, changed in step.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { BlockBackend } from '../../src/block/index.js';
import type { Rng } from '../../testing/block.js';

export class Mirror {
  readonly ref: Uint8Array;

  constructor(
    readonly disk: BlockBackend,
    initial?: Uint8Array,
  ) {
    this.ref = new Uint8Array(disk.sizeBytes);
    if (initial) this.ref.set(initial.subarray(0, Math.min(initial.length, disk.sizeBytes)));
  }

  write(offset: number, data: Uint8Array): void {
    this.disk.write(offset, data);
    this.ref.set(data, offset);
  }

  writeZeroes(offset: number, length: number, mayUnmap: boolean): void {
    this.disk.writeZeroes!(offset, length, mayUnmap);
    this.ref.fill(0, offset, offset + length);
  }

  /** Discarded data may read as before or as zeroes, per 512-byte sector; the reference takes what the disk says. */
  discard(offset: number, length: number): void {
    this.disk.discard!(offset, length);
    const now = new Uint8Array(length);
    this.disk.read(offset, now);
    for (let sector = offset - (offset % 512); sector < offset + length; sector += 512) {
      const from = Math.max(sector, offset) - offset;
      const to = Math.min(sector + 512, offset + length) - offset;
      const a = now.subarray(from, to);
      const before = this.ref.subarray(offset + from, offset + to);
      assert.ok(
        Buffer.compare(a, before) === 0 || a.every((x) => x === 0),
        `discarded sector at ${sector} reads neither as before nor as zeroes`,
      );
    }
    this.ref.set(now, offset);
  }

  /** Random writes of random lengths (partial clusters, cluster-crossing), zeroes and discards. */
  scribble(rng: Rng, ops: number, maxLen: number, opts: { zeroes?: boolean; discards?: boolean } = {}): void {
    const size = this.disk.sizeBytes;
    for (let i = 0; i < ops; i++) {
      const len = 1 + rng.int(Math.min(maxLen, size));
      const off = rng.int(size - len + 1);
      const kind = rng.int(10);
      if (opts.zeroes && kind === 0) this.writeZeroes(off, len, rng.int(2) === 0);
      else if (opts.discards && kind === 1) this.discard(off, len);
      else this.write(off, rng.bytes(len));
    }
  }

  /** The disk reads exactly as the reference. */
  verify(): void {
    const all = new Uint8Array(this.disk.sizeBytes);
    this.disk.read(0, all);
    const cmp = Buffer.compare(all, this.ref);
    if (cmp !== 0) {
      const at = all.findIndex((x, i) => x !== this.ref[i]);
      assert.fail(`disk differs from the reference at byte ${at}`);
    }
  }

  saveReference(path: string): void {
    writeFileSync(path, this.ref);
  }
}
