// Disk image test helpers: temporary directories, the real qemu-img, deterministic patterns.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let qemuImgChecked: boolean | undefined;

/** Whether the real qemu-img is installed (qemu-utils); interop tests skip without it. */
export function hasQemuImg(): boolean {
  qemuImgChecked ??= spawnSync('qemu-img', ['--version'], { encoding: 'utf8' }).status === 0;
  return qemuImgChecked;
}

/** For a suite's before(): skips the suite, saying why, when qemu-img is missing. */
export function requireQemuImg(ctx: Mocha.Context): void {
  if (!hasQemuImg()) {
    console.warn('    (skipped: qemu-img not found; install qemu-utils, see scripts/install-deps.sh)');
    ctx.skip();
  }
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

export function qemuImg(...args: string[]): Run {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs qemu-img and fails with its output unless it exits 0. */
export function qemuImgOk(...args: string[]): string {
  const r = qemuImg(...args);
  if (r.status !== 0) throw new Error(`qemu-img ${args.join(' ')} exited ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

export function tempDir(prefix = 'hypernova-block-'): {
  dir: string;
  path: (name: string) => string;
  remove: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A small deterministic PRNG (xorshift32), so failures reproduce. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 2 ** 32) * n);
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.next();
      b[i] = v;
      if (i + 1 < n) b[i + 1] = v >>> 8;
      if (i + 2 < n) b[i + 2] = v >>> 16;
      if (i + 3 < n) b[i + 3] = v >>> 24;
    }
    return b;
  }
}

export function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Random data in some chunks, zeroes in others: a disk with holes, as real disks have. */
export function patterned(size: number, chunk: number, rng: Rng, fill = 0.5): Uint8Array {
  const b = new Uint8Array(size);
  for (let off = 0; off < size; off += chunk) {
    if (rng.int(1000) < fill * 1000) b.set(rng.bytes(Math.min(chunk, size - off)), off);
  }
  return b;
}
