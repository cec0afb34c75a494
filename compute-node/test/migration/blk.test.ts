// Block migration: a guest whose disk is a qcow2 overlay over a base image every node has
// migrates to a destination with a fresh overlay over the same base. What the guest wrote before
// and during the migration must arrive (and nothing of the base be copied): afterwards both
// overlays read the same over the whole virtual disk, and qemu-img compare agrees. Without block
// migration (shared storage) nothing of the disk travels (see the nested describe).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { allocatedExtents, openDisk, Qcow2, RawBackend, VirtioBlk, type BlockBackend } from '@hypernova/hypervisor';
import { MigrationError, wire, type DestinationResult, type SourceResult } from '../../src/migration/index.js';
import { InactiveDisk } from '../../src/vmm/inactive-disk.js';
import { dirtierVm, harness, natsConnection, sleep, startMigration, Vm, type InfraServer } from './rig.js';

const MiB = 1 << 20;
const DISK = 16 * MiB;

describe('migration: block migration', function () {
  this.timeout(120_000);
  let nats: InfraServer;
  let ncA: NatsConnection;
  let ncB: NatsConnection;
  let dir: string;
  let base: string;
  const vms: Vm[] = [];
  const disks: BlockBackend[] = [];
  const writers: NodeJS.Timeout[] = [];

  before(async () => {
    nats = await (await harness()).startNats();
    ncA = await natsConnection(nats.url, 'node-a');
    ncB = await natsConnection(nats.url, 'node-b');
    dir = mkdtempSync(join(tmpdir(), 'hn-blk-migration-'));
    // The cached base image: qcow2 with data in its first half.
    base = join(dir, 'base.qcow2');
    Qcow2.create(base, { size: DISK });
    const b = openDisk(base);
    b.write(0, randomBytes(DISK / 2));
    b.close();
  });
  afterEach(() => {
    for (const w of writers.splice(0)) clearInterval(w);
    for (const vm of vms.splice(0)) vm.stop();
    for (const d of disks.splice(0)) d.close();
  });
  after(async () => {
    await ncA?.close();
    await ncB?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const track = (vm: Vm): Vm => (vms.push(vm), vm);

  /** A fresh overlay over the base, as a node creates for an instance, open. */
  function overlay(name: string, size = DISK): BlockBackend {
    const path = join(dir, name);
    Qcow2.create(path, { size, backingFile: base, backingFormat: 'qcow2' });
    const d = openDisk(path);
    disks.push(d);
    return d;
  }

  function rawDisk(name: string, size: number): BlockBackend {
    const path = join(dir, name);
    RawBackend.create(path, size);
    const d = openDisk(path);
    disks.push(d);
    return d;
  }

  /** What a guest does to its disk: writes (over the base and beyond it), zeroes over base data, discards. */
  function scribble(d: BlockBackend, n: number): void {
    for (let i = 0; i < n; i++) {
      const off = Math.floor(Math.random() * (d.sizeBytes - 200_000)) & ~511;
      if (i % 6 === 1) d.writeZeroes!(off, 128 * 1024, i % 2 === 0);
      else if (i % 6 === 3) d.discard!(off, 64 * 1024);
      else d.write(off, randomBytes(512 + Math.floor(Math.random() * 64 * 1024)));
    }
  }

  function sameContent(a: BlockBackend, b: BlockBackend): void {
    assert.equal(a.sizeBytes, b.sizeBytes);
    const x = Buffer.alloc(MiB);
    const y = Buffer.alloc(MiB);
    for (let off = 0; off < a.sizeBytes; off += MiB) {
      const n = Math.min(MiB, a.sizeBytes - off);
      a.read(off, x.subarray(0, n));
      b.read(off, y.subarray(0, n));
      assert.ok(x.subarray(0, n).equals(y.subarray(0, n)), `disks differ in [${off}, +${n})`);
    }
  }

  /** A few MB/s of writes from a timer while the source guest runs (a paused guest writes nothing). */
  function guestWrites(vm: Vm, d: BlockBackend): () => void {
    let n = 0;
    const timer = setInterval(() => {
      if (!vm.machine.isPaused) scribble(d, 1 + (n++ % 3));
    }, 20);
    writers.push(timer);
    return () => clearInterval(timer);
  }

  function qemuImgCompare(a: string, b: string): void {
    const r = spawnSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', a, b], { encoding: 'utf8' });
    if (r.error) return; // qemu-img not installed: the read-back comparison stands alone
    assert.equal(r.status, 0, `qemu-img compare: ${r.stdout}${r.stderr}`);
  }

  it('copies the overlay (written before and during the migration) and nothing of the base; qemu-img compare agrees', async () => {
    const srcDisk = overlay('src.qcow2');
    scribble(srcDisk, 30);
    const dstDisk = overlay('dst.qcow2');
    const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10, devices: [new VirtioBlk(srcDisk)] }));
    const dst = track(src.destination([new VirtioBlk(dstDisk)]));
    // A capped link makes the migration take a while, so the guest writes during it.
    const m = await startMigration(src, dst, ncA, ncB, {
      source: { disks: [srcDisk], maxBandwidth: 40 * MiB },
      destination: { disks: [dstDisk] },
    });
    const stopWriting = guestWrites(src, srcDisk);
    const r = await m.result;
    stopWriting();
    assert.ok(!(r.source instanceof Error), String(r.source));
    assert.ok(!(r.destination instanceof Error), String(r.destination));
    const s = r.source as SourceResult;
    const d = r.destination as DestinationResult;
    const p = s.progress;
    assert.ok(
      p.diskTotalBytes > 0 && p.diskTotalBytes < DISK,
      `round 1 copied the overlay only: ${p.diskTotalBytes} bytes`,
    );
    assert.ok(
      p.diskProcessedBytes > p.diskTotalBytes,
      `blocks written during the migration went again (${s.rounds} rounds)`,
    );
    assert.equal(p.diskRemainingBytes, 0);
    assert.ok(d.diskBytesApplied >= p.diskTotalBytes);
    assert.ok(!dst.machine.isPaused);
    assert.equal(srcDisk.dirtyLog!.active, false, 'the source stopped its dirty log');

    sameContent(srcDisk, dstDisk);
    const held = allocatedExtents(dstDisk).reduce((n, e) => n + e.length, 0);
    assert.ok(held < DISK, `the destination overlay holds ${held} bytes, not the whole disk`);
    srcDisk.close();
    dstDisk.close();
    qemuImgCompare(join(dir, 'src.qcow2'), join(dir, 'dst.qcow2'));
  });

  it('two disks (an overlay and a raw disk) arrive intact through lost and corrupted disk frames', async () => {
    const srcDisks = [overlay('a-src.qcow2'), rawDisk('b-src.raw', 4 * MiB)];
    for (const disk of srcDisks) scribble(disk, 20);
    const dstDisks = [overlay('a-dst.qcow2'), rawDisk('b-dst.raw', 4 * MiB)];
    const src = track(
      await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10, devices: srcDisks.map((x) => new VirtioBlk(x)) }),
    );
    const dst = track(src.destination(dstDisks.map((x) => new VirtioBlk(x))));
    const seen = new Set<number>();
    const m = await startMigration(src, dst, ncA, ncB, {
      source: {
        disks: srcDisks,
        rtoMs: 100,
        // Every 4th disk frame lost, every 3rd corrupted, the first time it goes (resends pass).
        // Counted in disk frames, not sequence numbers: which numbers the disk frames get
        // depends on timing (and round 1 alone always has more than four).
        tap: (dir, frame) => {
          const seq = Buffer.from(frame).readUInt32LE(12);
          if (dir !== 'out' || frame[5] !== wire.MsgType.Disk || seen.has(seq)) return undefined;
          seen.add(seq);
          if (seen.size % 4 === 0) return null;
          if (seen.size % 3 !== 0) return undefined;
          const bad = Uint8Array.from(frame);
          bad[bad.length - 1]! ^= 0xff;
          return bad;
        },
      },
      destination: { disks: dstDisks },
    });
    const stopWriting = guestWrites(src, srcDisks[0]!);
    const r = await m.result;
    stopWriting();
    assert.ok(!(r.source instanceof Error), String(r.source));
    assert.ok(!(r.destination instanceof Error), String(r.destination));
    const s = r.source as SourceResult;
    assert.ok(s.progress.retransmits > 0, 'lost frames were resent');
    // A flipped byte fails the frame's authentication: under AEAD it is a forgery like any other.
    const { rejected } = r.destination as DestinationResult;
    assert.ok(rejected.forged + rejected.corrupt > 0, 'corrupted frames were refused');
    srcDisks.forEach((x, i) => sameContent(x, dstDisks[i]!));
  });

  it('refuses destinations whose disks differ in number or size, and a disk whose log is in use; the source runs on', async () => {
    const srcDisk = overlay('r-src.qcow2');
    const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10, devices: [new VirtioBlk(srcDisk)] }));
    const cases: { name: string; disks: BlockBackend[] | undefined; error: RegExp }[] = [
      { name: 'no disks', disks: undefined, error: /1 disk\(s\), destination has 0/ },
      {
        name: 'two disks',
        disks: [overlay('r-dst2a.qcow2'), overlay('r-dst2b.qcow2')],
        error: /1 disk\(s\), destination has 2/,
      },
      {
        name: 'a smaller disk',
        disks: [overlay('r-dst-small.qcow2', DISK / 2)],
        error: /disk 0 is \d+ bytes at the source, \d+ here/,
      },
    ];
    for (const c of cases) {
      const dst = track(src.destination(c.disks?.map((x) => new VirtioBlk(x))));
      const m = await startMigration(src, dst, ncA, ncB, {
        source: { disks: [srcDisk] },
        destination: { disks: c.disks },
      });
      const r = await m.result;
      assert.ok(r.source instanceof MigrationError && r.source.code === 'refused', `${c.name}: ${String(r.source)}`);
      assert.match(r.source.message, c.error);
      assert.ok(!src.machine.isPaused, `${c.name}: the source runs on`);
      assert.equal(srcDisk.dirtyLog!.active, false);
    }
    // Someone else logging the disk (a backup, say): the source refuses and leaves that log alone.
    srcDisk.dirtyLog!.start(4096);
    const dst = track(src.destination([new VirtioBlk(overlay('r-dst-ok.qcow2'))]));
    const m = await startMigration(src, dst, ncA, ncB, {
      source: { disks: [srcDisk] },
      destination: { disks: disks.slice(-1) },
    });
    // The source gives up before it says hello: the destination hears nothing, its owner discards it.
    while (m.source.progress().status !== 'failed') await sleep(10);
    m.destination.abort();
    const r = await m.result;
    assert.ok(r.source instanceof MigrationError && r.source.code === 'state', String(r.source));
    assert.match(r.source.message, /dirty log of disk 0 is in use/);
    assert.ok(srcDisk.dirtyLog!.active && srcDisk.dirtyLog!.granularity === 4096);
    srcDisk.dirtyLog!.stop();
    await sleep(50);
    assert.ok(!src.machine.isPaused);
  });

  // Without block migration: both machines use the same overlay file (storage both nodes share).
  // Nothing of the disk travels; the source flushes it in the pause and the destination opens it
  // (InactiveDisk) only once End is there, so its freshly read metadata holds everything the guest
  // wrote, including what the source still had only in its caches.
  describe('shared storage (no block migration)', () => {
    /** The instance's overlay on the shared path, open at the source, and the destination's still-closed view of the same file. */
    function sharedOverlay(name: string): { path: string; src: BlockBackend; dst: InactiveDisk } {
      const path = join(dir, name);
      Qcow2.create(path, { size: DISK, backingFile: base, backingFormat: 'qcow2' });
      const src = openDisk(path);
      const dst = new InactiveDisk({ path, format: 'qcow2', readOnly: false }, DISK);
      disks.push(src, dst);
      return { path, src, dst };
    }

    /** Writes from a timer while the source guest runs: many new clusters, so L2 and refcount updates sit in the source's caches. */
    function clusterWrites(vm: Vm, d: BlockBackend): void {
      writers.push(
        setInterval(() => {
          if (vm.machine.isPaused) return;
          for (let i = 0; i < 4; i++)
            d.write((Math.floor(Math.random() * (DISK / 65536 - 1)) * 65536) | 512, randomBytes(4096));
        }, 10),
      );
    }

    function qemuImgCheck(path: string): void {
      const r = spawnSync('qemu-img', ['check', '-f', 'qcow2', path], { encoding: 'utf8' });
      if (r.error) return; // qemu-img not installed
      assert.equal(r.status, 0, `qemu-img check: ${r.stdout}${r.stderr}`);
    }

    it('copies no disk data; the destination opens the disk after End and reads all the guest wrote; qemu-img check passes', async () => {
      const disk = sharedOverlay('shared.qcow2');
      const src = track(
        await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10, devices: [new VirtioBlk(disk.src)] }),
      );
      const dst = track(src.destination([new VirtioBlk(disk.dst)]));
      let attachedWhile: { sourcePaused: boolean } | undefined;
      const m = await startMigration(src, dst, ncA, ncB, {
        source: { sharedDisks: [disk.src], maxBandwidth: 40 * MiB },
        destination: {
          sharedDisks: {
            sizes: [DISK],
            attach: () => {
              attachedWhile = { sourcePaused: src.machine.isPaused };
              disk.dst.activate();
            },
          },
        },
      });
      clusterWrites(src, disk.src);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(disk.dst.active, false, 'the destination has not opened the disk while the source runs');
      const r = await m.result;
      assert.ok(!(r.source instanceof Error), String(r.source));
      assert.ok(!(r.destination instanceof Error), String(r.destination));
      assert.deepEqual(attachedWhile, { sourcePaused: true }, 'opened once, with the source paused');
      assert.equal((r.source as SourceResult).progress.diskTotalBytes, 0, 'nothing of the disk travelled');
      assert.equal((r.destination as DestinationResult).diskBytesApplied, 0);
      for (const w of writers.splice(0)) clearInterval(w);
      // The source's cached view (what the guest wrote) is what the destination reads from the file.
      sameContent(disk.src, disk.dst);
      disk.src.close();
      // The guest goes on writing at the destination.
      disk.dst.write(DISK - 65536, randomBytes(65536));
      disk.dst.close();
      qemuImgCheck(disk.path);
    });

    it('a failure after End leaves the guest on the source with its open disk; the destination wrote nothing', async () => {
      const disk = sharedOverlay('fail.qcow2');
      const src = track(
        await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10, devices: [new VirtioBlk(disk.src)] }),
      );
      const dst = track(src.destination([new VirtioBlk(disk.dst)]));
      clusterWrites(src, disk.src);
      const m = await startMigration(src, dst, ncA, ncB, {
        source: { sharedDisks: [disk.src] },
        destination: {
          sharedDisks: { sizes: [DISK], attach: () => disk.dst.activate() },
          commit: () => {
            throw new Error('ownership moved elsewhere');
          },
        },
      });
      const r = await m.result;
      assert.ok(r.source instanceof MigrationError && r.source.code === 'commit', String(r.source));
      assert.ok(!src.machine.isPaused, 'the source runs on');
      disk.dst.close();
      // The source keeps using its caches: more writes, then a consistent image.
      await new Promise((res) => setTimeout(res, 100));
      for (const w of writers.splice(0)) clearInterval(w);
      const tail = randomBytes(4096);
      disk.src.write(DISK - 4096, tail);
      disk.src.close();
      const back = openDisk(disk.path);
      const got = Buffer.alloc(4096);
      back.read(DISK - 4096, got);
      back.close();
      assert.ok(got.equals(tail));
      qemuImgCheck(disk.path);
    });

    it('refuses a destination expecting other shared disks; the source runs on', async () => {
      const disk = sharedOverlay('refuse.qcow2');
      const src = track(
        await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10, devices: [new VirtioBlk(disk.src)] }),
      );
      const dst = track(src.destination([new VirtioBlk(disk.dst)]));
      const m = await startMigration(src, dst, ncA, ncB, {
        source: { sharedDisks: [disk.src] },
        destination: { sharedDisks: { sizes: [DISK / 2], attach: () => disk.dst.activate() } },
      });
      const r = await m.result;
      assert.ok(r.source instanceof MigrationError && r.source.code === 'refused', String(r.source));
      assert.match(r.source.message, /shared disk 0 is \d+ bytes at the source, \d+ here/);
      assert.equal(disk.dst.active, false);
      assert.ok(!src.machine.isPaused);
    });
  });
});
