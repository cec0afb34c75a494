// Corrupt inputs the VMM reads from the host: qcow2 images and machine snapshots. Each must be
// refused with the module's own error (BlockError, StateError), never another exception or a
// hang, and a refused snapshot leaves the running machine exactly as it was.
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { BlockError } from '../src/block/backend.js';
import { checkQcow2 } from '../src/block/qcow2/check.js';
import { Qcow2 } from '../src/block/qcow2/image.js';
import { openDisk } from '../src/block/open.js';
import { StateError } from '../src/state/section.js';
import { decodeDeviceState, decodeSnapshotHeader, encodeDeviceState, encodeSnapshot } from '../src/state/snapshot.js';
import { hasQemuImg, qemuImgOk, Rng } from './block.js';
import { Board, mmioBurst, rngRequest } from './fuzz-board.js';
import { FuzzFailure } from './fuzz-cpu.js';

export interface CorruptFuzzResult {
  cases: number;
  /** Cases refused with the expected error (the rest were accepted, and then worked or failed cleanly). */
  refused: number;
}

/** A case taking longer than this counts as a hang. */
const CASE_MS = 10_000;

function guard(seed: number, what: string, fn: () => void): void {
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  if (ms > CASE_MS) throw new FuzzFailure(seed, 'hang', `${what} took ${Math.round(ms)} ms`);
}

/** Runs fn; true if it threw `expected`, false if it returned; FuzzFailure for any other exception. */
function refuses(seed: number, what: string, expected: new (...a: never[]) => Error, fn: () => void): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    if (e instanceof expected) return true;
    throw new FuzzFailure(seed, 'crash', `${what}: ${String(e)}`, { cause: e });
  }
}

const MiB = 2 ** 20;

/** Pristine images with data: one our code made, one qemu-img made (when it is installed). */
function pristineImages(path: (name: string) => string, rng: Rng): string[] {
  const ours = path('ours.qcow2');
  Qcow2.create(ours, { size: 4 * MiB });
  const img = openDisk(ours);
  for (let k = 0; k < 6; k++) img.write(rng.int(60) * 65536, rng.bytes(65536));
  img.close();
  if (!hasQemuImg()) return [ours];
  const raw = path('data.raw');
  const bytes = new Uint8Array(4 * MiB);
  for (let k = 0; k < 8; k++) bytes.set(rng.bytes(16384), rng.int(255) * 16384);
  writeFileSync(raw, bytes);
  const theirs = path('qemu.qcow2');
  qemuImgOk('convert', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4096', raw, theirs);
  return [ours, theirs];
}

/** Offsets worth damaging: the header, the L1 and refcount tables, the L2 tables and refcount blocks they name. */
function metadataOffsets(f: Buffer): number[] {
  const u64 = (at: number): number => (at + 8 <= f.length ? Number(f.readBigUInt64BE(at) & 0x00ff_ffff_ffff_fe00n) : 0);
  const l1 = u64(40);
  const rt = u64(48);
  const out = [0, 4, 8, 16, 20, 24, 32, 36, 40, 48, 56, 60, 64, 72, 80, 88, 96, 100, l1, rt];
  for (let i = 0; i < 8; i++) out.push(u64(l1 + 8 * i), u64(rt + 8 * i));
  return out.filter((o) => o > 0 || out.indexOf(o) === 0);
}

/** Damages the image at `path`: bits, bytes or 64-bit words at metadata or anywhere; or truncates it. */
function damage(path: string, rng: Rng): void {
  const f = readFileSync(path);
  if (rng.int(10) === 0) {
    truncateSync(path, rng.int(f.length));
    return;
  }
  const targets = metadataOffsets(f);
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = Math.min(
      f.length - 8,
      (rng.int(4) ? targets[rng.int(targets.length)]! : 0) + rng.int(rng.int(2) ? 64 : f.length),
    );
    switch (rng.int(4)) {
      case 0:
        f[at] ^= 1 << rng.int(8);
        break;
      case 1:
        f[at] = rng.next() & 0xff;
        break;
      case 2:
        f.writeUInt32BE(rng.int(2) ? rng.next() : rng.int(64), at);
        break;
      default:
        f.writeBigUInt64BE(BigInt.asUintN(64, BigInt(rng.next()) << BigInt(rng.int(40))), at);
    }
  }
  writeFileSync(path, f);
}

/** `cases` damaged qcow2 images: open, check, read all, write some; only BlockError may come out. */
export function fuzzQcow2(seed: number, cases: number, path: (name: string) => string): CorruptFuzzResult {
  const rng = new Rng(seed);
  const images = pristineImages(path, rng);
  let refused = 0;
  for (let c = 0; c < cases; c++) {
    const p = path(`case.qcow2`);
    copyFileSync(images[c % images.length]!, p);
    damage(p, rng);
    const what = `case ${c} (${images[c % images.length]!})`;
    let clean = true;
    guard(seed, what, () => {
      if (refuses(seed, `${what}: check`, BlockError, () => checkQcow2(p))) clean = false;
      const readOnly = rng.int(2) === 0;
      let disk: ReturnType<typeof openDisk> | undefined;
      if (refuses(seed, `${what}: open`, BlockError, () => (disk = openDisk(p, { format: 'qcow2', readOnly })))) {
        refused++;
        return;
      }
      const d = disk!;
      const buf = new Uint8Array(65536);
      for (let off = 0; off < d.sizeBytes && off < 8 * MiB; off += buf.length) {
        if (
          refuses(seed, `${what}: read`, BlockError, () =>
            d.read(off, buf.subarray(0, Math.min(buf.length, d.sizeBytes - off))),
          )
        )
          clean = false;
      }
      if (!readOnly) {
        for (let k = 0; k < 4; k++) {
          const off = rng.int(Math.max(1, d.sizeBytes - 4096));
          if (refuses(seed, `${what}: write`, BlockError, () => d.write(off, rng.bytes(4096)))) clean = false;
        }
        if (refuses(seed, `${what}: flush`, BlockError, () => d.flush())) clean = false;
      }
      refuses(seed, `${what}: close`, BlockError, () => d.close());
      if (!clean) refused++;
    });
  }
  return { cases, refused };
}

/** A random JSON value of a shape state parsers must not trust. */
function junk(rng: Rng): unknown {
  const pick = [
    -1,
    2 ** 53,
    1e300,
    0.5,
    rng.next(),
    -rng.next(),
    '',
    'x',
    null,
    true,
    [],
    {},
    [1, 2, 3],
    { name: 'cpu' },
    Array.from({ length: 100 }, () => rng.next()),
  ];
  return pick[rng.int(pick.length)];
}

/** Replaces one random leaf (or inner node) of `v` by junk; returns the new value. */
function mutate(v: unknown, rng: Rng, depth = 0): unknown {
  if (v === null || typeof v !== 'object' || depth > 6 || rng.int(5) === 0) return junk(rng);
  const keys = Object.keys(v);
  if (keys.length === 0) return junk(rng);
  const copy = (Array.isArray(v) ? [...v] : { ...v }) as Record<string, unknown>;
  const k = keys[rng.int(keys.length)]!;
  if (rng.int(12) === 0) delete copy[k];
  else copy[k] = mutate(copy[k], rng, depth + 1);
  return copy;
}

/** Bytes flipped, truncated or spliced, with the CRC fixed up now and then so the parsers behind it get the damage. */
function damageBytes(buf: Buffer, rng: Rng): Buffer {
  let b = Buffer.from(buf);
  if (rng.int(4) === 0) b = b.subarray(0, rng.int(b.length));
  for (let n = rng.int(8); n > 0 && b.length > 0; n--) b[rng.int(b.length)] ^= 1 << rng.int(8);
  if (rng.int(2) && b.length >= 8) b.writeUInt32LE(crc32(b.subarray(0, b.length - 4)), b.length - 4);
  return b;
}

/**
 * `cases` damaged snapshots and device states (what a migration hands restoreDeviceState) of a
 * board with live virtqueues. Refused: StateError, and the machine unchanged and running.
 * Accepted: the machine runs on without throwing, and the good snapshot restores it.
 */
export function fuzzSnapshot(seed: number, cases: number): CorruptFuzzResult {
  const rng = new Rng(seed);
  const b = new Board(rng);
  for (let k = 0; k < 20; k++) mmioBurst(b);
  rngRequest(b);
  b.run();
  const m = b.machine;
  const good = m.saveState();
  let refused = 0;
  for (let c = 0; c < cases; c++) {
    const device = rng.int(2) === 0;
    let bad: Buffer;
    if (rng.int(3) === 0) {
      bad = damageBytes(device ? m.saveDeviceState() : good, rng);
    } else {
      const header = device ? decodeDeviceState(m.saveDeviceState()) : decodeSnapshotHeader(good).header;
      const mutated = mutate(header, rng) as typeof header;
      bad = device ? encodeDeviceState(mutated) : encodeSnapshot(mutated, m.ram);
    }
    const what = `case ${c} (${device ? 'device state' : 'snapshot'})`;
    const state = m.saveState();
    guard(seed, what, () => {
      const restore = (): void => (device ? m.restoreDeviceState(bad) : m.restoreState(bad));
      if (refuses(seed, what, StateError, restore)) {
        refused++;
        if (!m.saveState().equals(state))
          throw new FuzzFailure(seed, 'check', `${what}: refused, but the machine changed`);
        b.run();
        return;
      }
      try {
        m.hart.run(m.hart.instret + 1000);
        mmioBurst(b);
        m.restoreState(good);
        b.run();
      } catch (e) {
        throw new FuzzFailure(seed, 'crash', `${what}: accepted, then ${String(e)}`, { cause: e });
      }
    });
  }
  return { cases, refused };
}
