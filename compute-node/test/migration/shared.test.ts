// Live migration without block migration: both machines use the same qcow2 overlay file (storage
// both nodes share). Nothing of the disk travels; the source flushes it in the pause and the
// destination opens it (InactiveDisk) only once End is there, so its freshly read metadata holds
// everything the guest wrote, including what the source still had only in its caches.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from 'nats';
import { openDisk, Qcow2, VirtioBlk, type BlockBackend } from '@hypernova/hypervisor';
import { MigrationError, type DestinationResult, type SourceResult } from '../../src/migration/index.js';
import { InactiveDisk } from '../../src/vmm/inactive-disk.js';
import { dirtierVm, harness, natsConnection, startMigration, Vm, type InfraServer } from './rig.js';

const MiB = 1 << 20;
const DISK = 16 * MiB;

describe('migration: shared storage (no block migration)', function () {
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
    dir = mkdtempSync(join(tmpdir(), 'hn-shared-migration-'));
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
  function guestWrites(vm: Vm, d: BlockBackend): void {
    writers.push(
      setInterval(() => {
        if (vm.machine.isPaused) return;
        for (let i = 0; i < 4; i++) d.write((Math.floor(Math.random() * (DISK / 65536 - 1)) * 65536) | 512, randomBytes(4096));
      }, 10),
    );
  }

  function sameContent(a: BlockBackend, b: BlockBackend): void {
    const x = Buffer.alloc(MiB);
    const y = Buffer.alloc(MiB);
    for (let off = 0; off < a.sizeBytes; off += MiB) {
      a.read(off, x);
      b.read(off, y);
      assert.ok(x.equals(y), `disks differ in [${off}, +${MiB})`);
    }
  }

  function qemuImgCheck(path: string): void {
    const r = spawnSync('qemu-img', ['check', '-f', 'qcow2', path], { encoding: 'utf8' });
    if (r.error) return; // qemu-img not installed
    assert.equal(r.status, 0, `qemu-img check: ${r.stdout}${r.stderr}`);
  }

  it('copies no disk data; the destination opens the disk after End and reads all the guest wrote; qemu-img check passes', async () => {
    const disk = sharedOverlay('shared.qcow2');
    const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10, devices: [new VirtioBlk(disk.src)] }));
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
    guestWrites(src, disk.src);
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
    const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10, devices: [new VirtioBlk(disk.src)] }));
    const dst = track(src.destination([new VirtioBlk(disk.dst)]));
    guestWrites(src, disk.src);
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
    const src = track(await dirtierVm({ memoryMiB: 32, wssMiB: 4, rateMiBs: 10, devices: [new VirtioBlk(disk.src)] }));
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
