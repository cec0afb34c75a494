// The Linux guest on virtio-blk: root on a qcow2 overlay over a base image, data surviving
// a reboot and kill -9 of the VM process, and disks exchanged with QEMU booting the same
// guest. The guest's disktest prints an FNV-1a of what it wrote or read back; the host
// compares it with its own copy of the pattern, and reads files out of the images itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureRootfs, hasQemu, runQemuGuest } from '@hypernova/guest';
import { Qcow2, openDisk } from '../../src/block/index.js';
import { VirtioBlk } from '../../src/devices/virtio/index.js';
import { hasQemuImg, qemuImg, qemuImgOk, sha256, tempDir } from '../../testing/block.js';
import { exportRaw, fsck, lineOf, readExt2File, rootAppend, runGuest } from '../../testing/guest.js';
import { fnv1a, patternBytes, writeFileContent } from '../../testing/pattern.js';

const MiB = 1 << 20;

/** What `disktest write|verify PATH 1M SEED` prints for intact data. */
function diskOk(verb: 'write' | 'verify', path: string, seed: number): RegExp {
  return new RegExp(`DISK-OK ${verb} path=${path} bytes=${MiB} seed=${seed} fnv=${fnv1a(patternBytes(seed, MiB))}`);
}

describe('virtio-blk with the Linux guest', function () {
  this.timeout(600_000);
  const tmp = tempDir('hypernova-virtio-guest-');
  let rootfs = '';

  before(async () => {
    rootfs = (await ensureRootfs()).image;
  });
  after(() => tmp.remove());

  /** A private copy of the root image (the cached one stays pristine) and a qcow2 overlay over it made by us. */
  function baseAndOverlay(name: string): { base: string; overlay: string } {
    const base = tmp.path(`${name}-base.raw`);
    const overlay = tmp.path(`${name}.qcow2`);
    copyFileSync(rootfs, base);
    Qcow2.create(overlay, { size: statSync(base).size, backingFile: `${name}-base.raw`, backingFormat: 'raw' });
    return { base, overlay };
  }

  it('boots with its root on a qcow2 overlay, writes a file, reboots and reads it back; the base is untouched', async () => {
    const { base, overlay } = baseAndOverlay('reboot');
    const baseHash = sha256(base);
    const disk = new VirtioBlk(openDisk(overlay));
    // disktest persist: writes and asks init to reboot on the first boot, verifies on the next.
    const run = await runGuest({ append: rootAppend('/bin/disktest,persist,/data/f,1M,7'), devices: [disk] });
    disk.backend.close();
    const { log } = run;
    assert.ok(!run.timedOut, log);
    assert.equal(log.match(/BOOT-OK/g)?.length, 2, `one reboot, in-process:\n${log}`);
    const written = lineOf(log, diskOk('write', '/data/f', 7)).index!;
    const reboot = lineOf(log, /hn: run \/bin\/disktest exit 100\r?\nhn: rebooting/).index!;
    const verified = lineOf(log, diskOk('verify', '/data/f', 7)).index!;
    assert.ok(written < reboot && reboot < verified, log);
    lineOf(log, /hn: run \/bin\/disktest exit 0\r?\nhn: powering off/);

    assert.equal(sha256(base), baseHash, 'the base image changed');
    if (hasQemuImg()) {
      const check = qemuImg('check', overlay);
      assert.equal(check.status, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /No errors were found/);
    }
    // Init remounted the root read-only before powering off: the file system is clean.
    const raw = tmp.path('reboot-content.raw');
    exportRaw(overlay, raw);
    const { status, output } = fsck(raw);
    assert.equal(status, 0, output);
    assert.ok(readExt2File(raw, '/data/f', tmp.path('reboot-f')).equals(patternBytes(7, MiB)));
  });

  it("holds what init's hn.write_file heartbeats vouch for: the file written, then a record rewritten before each beat", async () => {
    const { overlay } = baseAndOverlay('records');
    const disk = new VirtioBlk(openDisk(overlay));
    // 4 records and 6 heartbeats: beats 5 and 6 rewrite the records of beats 1 and 2.
    const append = `${rootAppend()} hn.write_file=/data/beats,16K,5 hn.poweroff_after=6`;
    const run = await runGuest({ append, devices: [disk] });
    disk.backend.close();
    assert.ok(!run.timedOut, run.log);
    lineOf(
      run.log,
      new RegExp(`DISK-OK write path=/data/beats bytes=16384 seed=5 fnv=${fnv1a(patternBytes(5, 16384))}`),
    );
    lineOf(run.log, /heartbeat 6\r?\nhn: powering off/);
    assert.doesNotMatch(run.log, /DISK-FAIL/);
    const raw = tmp.path('records.raw');
    exportRaw(overlay, raw);
    const { status, output } = fsck(raw);
    assert.equal(status, 0, output);
    assert.ok(readExt2File(raw, '/data/beats', tmp.path('records-f')).equals(writeFileContent(16384, 5, 6)));
  });

  it('keeps what the guest flushed when the VM process is killed with SIGKILL', async () => {
    const { overlay } = baseAndOverlay('kill');
    // Write and sync one file, then keep writing another without syncing until killed.
    const append = rootAppend('/bin/disktest,write,/data/f,1M,9', '/bin/disktest,churn,/data/junk');
    const log = await runChildAndKill(append, overlay);
    lineOf(log, diskOk('write', '/data/f', 9));

    // The image opens (it is consistent), and the synced file is there, whole.
    if (hasQemuImg()) {
      // Clusters allocated for unflushed writes may leak (exit status 3); corruption (2) may not happen.
      const check = qemuImg('check', overlay);
      assert.ok(check.status === 0 || check.status === 3, check.stdout + check.stderr);
      assert.doesNotMatch(check.stdout, /ERROR/);
    }
    const raw = tmp.path('kill-content.raw');
    exportRaw(overlay, raw);
    assert.ok(readExt2File(raw, '/data/f', tmp.path('kill-f')).equals(patternBytes(9, MiB)));
  });

  describe('with QEMU booting the same guest', function () {
    before(function () {
      if (!hasQemu() || !hasQemuImg()) {
        console.warn('    (skipped: qemu-system-riscv32 or qemu-img not found; install qemu-system-misc qemu-utils)');
        this.skip();
      }
    });

    it('reads what QEMU wrote, and QEMU reads what it wrote, on a qemu-img overlay over a qcow2 base', async () => {
      const { image: kernel } = (await ensureRootfs()).linux;
      const base = tmp.path('interop-base.qcow2');
      const overlay = tmp.path('interop.qcow2');
      qemuImgOk('convert', '-f', 'raw', '-O', 'qcow2', rootfs, base);
      qemuImgOk('create', '-q', '-f', 'qcow2', '-b', 'interop-base.qcow2', '-F', 'qcow2', overlay);
      const baseHash = sha256(base);
      const onQemu = async (...commands: string[]): Promise<string> => {
        const r = await runQemuGuest({
          kernel,
          append: rootAppend(...commands),
          drives: [{ file: overlay, format: 'qcow2' }],
        });
        assert.ok(!r.timedOut && r.code === 0, r.output);
        return r.output;
      };

      lineOf(await onQemu('/bin/disktest,write,/data/qemu,1M,11'), diskOk('write', '/data/qemu', 11));

      const disk = new VirtioBlk(openDisk(overlay));
      const ours = await runGuest({
        append: rootAppend('/bin/disktest,verify,/data/qemu,1M,11', '/bin/disktest,write,/data/ours,1M,12'),
        devices: [disk],
      });
      disk.backend.close();
      lineOf(ours.log, diskOk('verify', '/data/qemu', 11));
      lineOf(ours.log, diskOk('write', '/data/ours', 12));
      assert.match(qemuImgOk('check', overlay), /No errors were found/);

      lineOf(
        await onQemu('/bin/disktest,verify,/data/ours,1M,12', '/bin/disktest,verify,/data/qemu,1M,11'),
        diskOk('verify', '/data/ours', 12),
      );
      assert.equal(sha256(base), baseHash, 'the base image changed');
    });
  });

  /** Runs the guest in a child VM process, SIGKILLs it once the guest has synced and is writing more; returns the console. */
  function runChildAndKill(append: string, disk: string): Promise<string> {
    const child = spawn(process.execPath, [fileURLToPath(new URL('./vm-child.js', import.meta.url)), append, disk], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    let killed = false;
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('latin1');
    return new Promise((resolve, reject) => {
      const onData = (d: string): void => {
        log += d;
        // "churning" comes after "synced": unsynced writes are under way when the kill lands.
        if (!killed && /synced[\s\S]*churning/.test(log)) {
          killed = true;
          setTimeout(() => child.kill('SIGKILL'), 500);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (signal === 'SIGKILL' && killed) resolve(log);
        else
          reject(new Error(`the VM process ended with ${signal ?? `exit code ${code}`} before it was killed:\n${log}`));
      });
    });
  }
});
