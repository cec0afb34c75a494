// The Linux guest in real VM processes, driven as the agent drives them (--console none, a
// serial log, the control socket). Two boots:
// - the running guest is saved, shows a kernel panic as GUEST_PANICKED, and is restored in a
//   fresh process where it carries on (heartbeat n+1, its own memory checks passing) for ten
//   seconds, then powers off on system_powerdown;
// - a guest with its root file system on virtio-blk writes and syncs a file, then keeps
//   writing another without syncing; saved and restored mid-write, it goes on writing, and
//   after system_powerdown the file is intact and the file system checks clean.
import { strict as assert } from 'node:assert';
import { copyFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLinuxGuest, ensureRootfs } from '@hypernova/guest';
import { fnv1a, fsck, patternBytes, readExt2File, runArgs } from '@hypernova/hypervisor/testing';
import { EventLog, killAll, sleep, startVm, tempDir, waitFile } from '../../testing/harness.js';

const heartbeats = (log: string): number[] => [...log.matchAll(/^heartbeat (\d+)\r?$/gm)].map((m) => Number(m[1]));
const last = (xs: number[]): number => xs[xs.length - 1] ?? 0;

describe('VM process with the Linux guest', function () {
  this.timeout(600_000);
  const tmp = tempDir('linux');
  after(() => {
    killAll();
    tmp.remove();
  });

  it('saves a running guest and restores it in a fresh process: heartbeat n+1, 10 s of work, then a clean powerdown', async () => {
    const { image } = await ensureLinuxGuest();
    // The guest rewrites 1 MiB a second and checks each page holds what it wrote last time.
    const flags = (log: string): string[] => [
      '--kernel',
      image,
      '--append',
      'console=ttyS0 hn.dirty_mib_s=1 hn.wss_mib=2',
      '--memory',
      '64',
      '--rng',
      '--console',
      'none',
      '--serial-log',
      log,
    ];
    const [logA, logB, state] = ['a.log', 'b.log', 'linux.state'].map((f) => join(tmp.dir, f)) as [
      string,
      string,
      string,
    ];

    const a = startVm([...flags(logA), '--name', 'linux-a'], { control: join(tmp.dir, 'a.sock') });
    const qa = await a.qmp();
    const ea = new EventLog(qa);
    await waitFile(logA, (t) => last(heartbeats(t)) >= 2, 300_000, a);
    const stats = await qa.execute<{ instructions: number; mips: number; rss_bytes: number }>('query-stats');
    assert.ok(stats.instructions > 15e6, `instructions ${stats.instructions}`); // the boot alone retires ~18 M
    assert.ok(stats.rss_bytes > 64 << 20);
    await qa.execute('stop');
    const n = last(heartbeats(await waitFile(logA, (t) => t, 1000)));
    await qa.execute('savevm', { path: state });

    // While we are at it: a kernel panic in the (resumed) original is reported.
    await qa.execute('cont');
    assert.equal(await qa.execute('human-monitor-command', { 'command-line': 'sysrq c' }), '');
    const panic = await ea.next('GUEST_PANICKED', 30_000);
    assert.equal(panic.data?.action, 'run');
    assert.match(
      String((panic.data?.info as { message: string }).message),
      /Kernel panic - not syncing: sysrq triggered crash/,
    );
    await qa.execute('quit');
    assert.deepEqual(await a.exited, { code: 0, signal: null });

    const b = startVm([...flags(logB), '--name', 'linux-b', '--incoming', state], { control: join(tmp.dir, 'b.sock') });
    const qb = await b.qmp();
    const eb = new EventLog(qb);
    const started = Date.now();
    const first = await waitFile(logB, (t) => heartbeats(t)[0], 30_000, b);
    assert.equal(first, n + 1, 'the restored guest goes on from where it was saved');
    await waitFile(logB, (t) => last(heartbeats(t)) >= n + 11, 60_000, b);
    const seconds = (Date.now() - started) / 1000;
    assert.ok(
      seconds > 9 && seconds < 40,
      `10 heartbeats took ${seconds} s (paced by guest time; a loaded host only delays them)`,
    );
    const log = await waitFile(logB, (t) => t, 1000);
    assert.deepEqual(
      heartbeats(log),
      Array.from({ length: heartbeats(log).length }, (_, i) => n + 1 + i),
      'no heartbeat lost or repeated',
    );
    assert.doesNotMatch(log, /MEMCHECK-FAIL|BOOT-OK|Oops|panic/, 'restored memory checks out; no reboot');

    await qb.execute('system_powerdown');
    await eb.next('POWERDOWN');
    assert.deepEqual((await eb.next('SHUTDOWN', 30_000)).data, { guest: true, reason: 'guest-shutdown' });
    assert.deepEqual(await b.exited, { code: 0, signal: null });
    const end = await waitFile(logB, (t) => t, 1000);
    assert.match(end, /sysrq: Emergency Sync/);
    assert.match(end, /sysrq: Power Off|reboot: Power down/);
  });

  it('a file written before the save is intact after the restore, the guest keeps writing, and the file system checks clean', async () => {
    const rootfs = await ensureRootfs();
    const root = join(tmp.dir, 'root.ext2');
    copyFileSync(rootfs.image, root);
    // Write and sync /data/f, then rewrite /data/churn forever without syncing: the save
    // catches the file system with writes in flight, in the page cache and on the disk.
    const append = `console=ttyS0 root=/dev/vda rw rdinit=/none ${runArgs(['/bin/disktest,write,/data/f,1M,7', '/bin/disktest,churn,/data/churn'])}`;
    const flags = (log: string): string[] => [
      '--kernel',
      rootfs.linux.image,
      '--append',
      append,
      '--memory',
      '64',
      '--disk',
      `${root},format=raw`,
      '--console',
      'none',
      '--serial-log',
      log,
    ];
    const [logA, logB, state] = ['disk-a.log', 'disk-b.log', 'disk.state'].map((f) => join(tmp.dir, f)) as [
      string,
      string,
      string,
    ];

    const a = startVm(flags(logA), { control: join(tmp.dir, 'disk-a.sock') });
    const qa = await a.qmp();
    const fnv = await waitFile(
      logA,
      (t) =>
        /synced[\s\S]*churning/.test(t) &&
        /DISK-OK write path=\/data\/f bytes=1048576 seed=7 fnv=([0-9a-f]{8})/.exec(t)?.[1],
      300_000,
      a,
    );
    await sleep(1000);
    await qa.execute('stop');
    await qa.execute('savevm', { path: state });
    await qa.execute('quit');
    assert.deepEqual(await a.exited, { code: 0, signal: null });

    const b = startVm([...flags(logB), '--incoming', state], { control: join(tmp.dir, 'disk-b.sock') });
    const qb = await b.qmp();
    const eb = new EventLog(qb);
    const i0 = (await qb.execute<{ instructions: number }>('query-stats')).instructions;
    await sleep(10_000);
    const i1 = (await qb.execute<{ instructions: number }>('query-stats')).instructions;
    assert.ok(i1 - i0 > 10e6, `the restored guest ran ${i1 - i0} instructions in 10 s`);
    assert.equal((await qb.execute<{ status: string }>('query-status')).status, 'running');
    await qb.execute('system_powerdown');
    assert.equal((await eb.next('SHUTDOWN', 60_000)).data?.reason, 'guest-shutdown');
    assert.deepEqual(await b.exited, { code: 0, signal: null });
    const log = await waitFile(logB, (t) => t, 1000);
    assert.doesNotMatch(log, /EXT[24]-fs error|I\/O error|panic|BOOT-OK/, log);

    const check = fsck(root);
    assert.equal(check.status, 0, check.output);
    const f = readExt2File(root, '/data/f', join(tmp.dir, 'f.out'));
    assert.ok(f.equals(patternBytes(7, 1 << 20)), '/data/f holds what the guest wrote');
    assert.equal(fnv1a(f), fnv);
    assert.equal(statSync(root).size, statSync(rootfs.image).size);
  });
});
