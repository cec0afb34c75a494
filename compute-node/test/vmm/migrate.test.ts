// Live migration between real VM processes through their control sockets (as the agent drives
// it), with real nats-server and redis-server: the bare-metal ticker (a count printed 10 times a
// second) moves and carries on counting, the owner key flips (the test answering the VM
// processes' ownership requests in Redis, as the agent does), the source is done for; bad
// commands change nothing; a destination whose supervisor goes away never resumes; a
// cancelled migration leaves the guest running at the source. And the Linux guest writing its
// root file system on a qcow2 overlay both processes use (shared storage, no block migration):
// the destination opens the file only after the source's last frame, and the file system checks
// clean afterwards.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRedis, redisKeys, type Redis } from '@hypernova/common';
import { ensureRootfs } from '@hypernova/guest';
import { Qcow2 } from '@hypernova/hypervisor';
import { fsck, patternBytes, readExt2File, runArgs } from '@hypernova/hypervisor/testing';
import { ownershipAnswer } from '../../src/agent/managed-vm.js';
import { QmpClient, QmpError } from '../../src/agent/qmp-client.js';
import { redisOwnership } from '../../src/migration/index.js';
import type {
  MigrationEventData,
  MigrationInfo,
  MigrationProgressInfo,
  StatusInfo,
  VmStats,
} from '../../src/vmm/protocol.js';
import { harness, type InfraServer } from '../migration/rig.js';
import { EventLog, fileIn, killAll, sleep, startVm, tempDir, type VmUnderTest } from '../../testing/harness.js';
import { tickerElf } from './programs.js';

/** Whether the process has `path` open (its /proc/<pid>/fd links). */
function hasOpen(pid: number, path: string): boolean {
  return readdirSync(`/proc/${pid}/fd`).some((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
    } catch {
      return false; // closed meanwhile
    }
  });
}

function qemuImg(args: string[]): string {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  assert.equal(r.status, 0, `qemu-img ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

const lastTick = (out: string): number => {
  const all = [...out.matchAll(/^tick ([0-9a-f]{8})$/gm)];
  return all.length ? parseInt(all[all.length - 1]![1]!, 16) : 0;
};

/** Bytes/s: the ticker's first pass is a few KiB on the wire (its RAM is mostly zero pages), so this keeps a migration going for seconds. */
const SLOW = 2000;

const PROGRESS_FIELDS = [
  'round',
  'total_bytes',
  'processed_bytes',
  'remaining_bytes',
  'transferred_bytes',
  'bandwidth_bytes_per_sec',
  'dirty_rate_bytes_per_sec',
  'expected_downtime_ms',
  'downtime_limit_ms',
  'throttle',
  'retransmits',
  'rejected',
  'elapsed_ms',
];

/** One VM process with a control connection and its events. */
interface Side {
  vm: VmUnderTest;
  qmp: QmpClient;
  events: EventLog;
}

/**
 * Waits for the first migration to end among the events from index `from` on; returns the
 * statuses of its MIGRATION events, the last one's data, and where the next migration's start.
 * (Not EventLog.next: that reads on from the last event taken, of any name.)
 */
async function migrationEnd(
  events: EventLog,
  from = 0,
  ms = 60_000,
): Promise<{ statuses: string[]; end: MigrationEventData; next: number }> {
  const deadline = Date.now() + ms;
  for (;;) {
    const statuses: string[] = [];
    for (let i = from; i < events.events.length; i++) {
      const e = events.events[i]!;
      if (e.event !== 'MIGRATION') continue;
      const data = e.data as unknown as MigrationEventData;
      statuses.push(data.status);
      if (data.status !== 'setup' && data.status !== 'active') return { statuses, end: data, next: i + 1 };
    }
    if (Date.now() > deadline)
      throw new Error(`no end of migration within ${ms} ms: ${JSON.stringify(events.events.slice(from))}`);
    await sleep(20);
  }
}

/** Waits for an event `name` at index `from` or later. */
async function eventAfter(events: EventLog, name: string, from = 0, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!events.events.some((e, i) => i >= from && e.event === name)) {
    if (Date.now() > deadline)
      throw new Error(`no ${name} within ${ms} ms: ${JSON.stringify(events.events.slice(from))}`);
    await sleep(20);
  }
}

async function rejects(p: Promise<unknown>, desc: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof QmpError, String(e));
    assert.equal(e.errorClass, 'GenericError');
    assert.match(e.message, desc);
    return true;
  });
}

describe('VM process live migration', function () {
  this.timeout(180_000);
  const tmp = tempDir('migrate');
  let nats: InfraServer;
  let redisServer: InfraServer;
  let redis: Redis;
  let kernel: string;
  let n = 0;
  const clients: QmpClient[] = [];

  before(async () => {
    const h = await harness();
    [nats, redisServer] = await Promise.all([h.startNats(), h.startRedis()]);
    redis = createRedis(redisServer.url);
    kernel = fileIn(tmp.dir, 'ticker.elf', tickerElf(1_000_000));
  });
  after(async () => {
    for (const c of clients) c.close();
    killAll();
    redis?.disconnect();
    await Promise.all([nats?.stop(), redisServer?.stop()]);
    tmp.remove();
  });

  async function connect(vm: VmUnderTest): Promise<QmpClient> {
    const qmp = await vm.qmp();
    clients.push(qmp);
    return qmp;
  }

  async function side(extra: string[] = []): Promise<Side> {
    const vm = startVm(['--bios', 'none', '--kernel', kernel, '--memory', '16', ...extra], {
      control: join(tmp.dir, `vm${++n}.sock`),
    });
    const qmp = await connect(vm);
    return { vm, qmp, events: new EventLog(qmp) };
  }

  /** A ticking source and a destination waiting with --incoming defer, and an instance owned by node-a. */
  async function pair(dstFlags: string[] = []): Promise<{ src: Side; dst: Side; instance: string; id: string }> {
    const [src, dst] = await Promise.all([side(), side(['--incoming', 'defer', ...dstFlags])]);
    await src.vm.waitOut((o) => lastTick(o) >= 2);
    const instance = `vmm-migrate-${n}-${Date.now()}`;
    await redis.set(redisKeys.instanceOwner(instance), 'node-a');
    return { src, dst, instance, id: `${instance}-m` };
  }

  const key = randomBytes(32).toString('hex');
  /** What the agent adds to a migration's arguments, and does for them: `s`'s ownership requests are answered in Redis. */
  const ownership = (instance: string, ...sides: Side[]): Record<string, unknown> => {
    for (const s of sides) {
      s.qmp.on('event', (e) => {
        if (e.event !== 'MIGRATION_OWNERSHIP') return;
        const o = redisOwnership(redis, {
          ownerKey: redisKeys.instanceOwner(instance),
          outcomeKey: redisKeys.migrationOutcome(String(e.data?.id)),
          source: 'node-a',
          destination: 'node-b',
        });
        void ownershipAnswer(o, e.data ?? {}).then((a) => s.qmp.execute('migrate-ownership', a));
      });
    }
    return { key, ownership: true };
  };
  const status = async (s: Side): Promise<string> => (await s.qmp.execute<StatusInfo>('query-status')).status;

  /** The guest keeps counting past `from` (and so runs) in `s`. */
  const ticksOn = (s: Side, from: number): Promise<unknown> => s.vm.waitOut((o) => lastTick(o) >= from + 2, 10_000);

  it('moves a running guest: completed on both sides, destination running, source postmigrate, owner flipped, the count carries on', async () => {
    const { src, dst, instance, id } = await pair();
    const agent = ownership(instance, src, dst);
    assert.deepEqual(await dst.qmp.execute('migrate-incoming', { id, uri: nats.url, ...agent }), {});
    assert.deepEqual(await src.qmp.execute('migrate', { id, uri: nats.url, ...agent, verify: true }), {});

    const out = await migrationEnd(src.events);
    assert.deepEqual(out.statuses, ['setup', 'active', 'completed']);
    assert.ok(
      out.end.total_ms! > 0 && out.end.downtime_ms! >= 0 && out.end.transferred_bytes! > 0 && out.end.rounds! >= 1,
      JSON.stringify(out.end),
    );
    const progress = src.events.events.find((e) => e.event === 'MIGRATION_PROGRESS')!
      .data as unknown as MigrationProgressInfo;
    for (const f of PROGRESS_FIELDS) assert.ok(f in progress, `MIGRATION_PROGRESS has ${f}`);
    assert.equal(progress.total_bytes, 16 << 20);
    assert.deepEqual(src.events.events.find((e) => e.event === 'STOP')?.data, {});

    const inc = await migrationEnd(dst.events);
    assert.deepEqual(inc.statuses, ['setup', 'active', 'completed']);
    assert.ok(dst.events.events.some((e) => e.event === 'RESUME'));
    // The destination asked its client for the commit (the source, with its result, needed nothing).
    assert.deepEqual(
      dst.events.events.filter((e) => e.event === 'MIGRATION_OWNERSHIP').map((e) => e.data),
      [{ id, request: 1, action: 'commit' }],
    );
    assert.ok(!src.events.events.some((e) => e.event === 'MIGRATION_OWNERSHIP'));
    assert.equal(await redis.get(redisKeys.instanceOwner(instance)), 'node-b');
    assert.equal(await redis.get(redisKeys.migrationOutcome(id)), 'committed');

    assert.deepEqual(await dst.qmp.execute('query-status'), { running: true, status: 'running', singlestep: false });
    assert.deepEqual(await src.qmp.execute('query-status'), {
      running: false,
      status: 'postmigrate',
      singlestep: false,
    });
    const info = await src.qmp.execute<MigrationInfo>('query-migrate');
    assert.equal(info.status, 'completed');
    for (const f of [...PROGRESS_FIELDS, 'downtime_ms']) assert.ok(f in info, `query-migrate has ${f}`);
    assert.equal((await dst.qmp.execute<MigrationInfo>('query-migrate')).status, 'completed');

    // The count goes on at the destination, from where the source stopped, without a reboot.
    const last = lastTick(src.vm.out);
    const before = await dst.qmp.execute<VmStats>('query-stats');
    // Ticks after `before` (it may already have printed some): the instruction count must grow.
    await ticksOn(dst, Math.max(last, lastTick(dst.vm.out)));
    assert.equal(
      lastTick(dst.vm.out.split('\n').find((l) => l.startsWith('tick')) ?? ''),
      last + 1,
      'the first tick there is the next one',
    );
    assert.doesNotMatch(dst.vm.out, /ticker: start/);
    assert.ok((await dst.qmp.execute<VmStats>('query-stats')).instructions > before.instructions);

    // The source is done for: only quit is left.
    for (const [cmd, args] of [['cont'], ['system_reset'], ['loadvm', { path: join(tmp.dir, 'none') }]] as const) {
      await rejects(src.qmp.execute(cmd, args), /migrated to another host/);
    }
    await rejects(
      src.qmp.execute('migrate', { id: `${id}-again`, uri: nats.url, key }),
      /running or paused guest; the status is 'postmigrate'/,
    );
    assert.equal(lastTick(src.vm.out), last, 'the source guest never ran again');
    await src.qmp.execute('quit');
    assert.equal((await src.vm.exited).code, 0);
    await dst.qmp.execute('quit');
    assert.equal((await dst.vm.exited).code, 0);
  });

  it('refuses bad arguments and commands out of place with clear errors, and changes nothing', async () => {
    const { src, dst, instance, id } = await pair();
    const target = { id, uri: nats.url, key };
    const cases: [Side, string, Record<string, unknown> | undefined, RegExp][] = [
      [src, 'migrate-incoming', target, /--incoming defer and no guest yet; the status is 'running'/],
      [dst, 'migrate', target, /running or paused guest; the status is 'inmigrate'/],
      [src, 'migrate', { uri: nats.url, key }, /'id' is missing/],
      [src, 'migrate', { id, uri: nats.url }, /'key' is missing/],
      [src, 'migrate', { ...target, key: key.slice(2) }, /'key' must be 64 hex digits/],
      [dst, 'migrate-incoming', { ...target, key: `${key.slice(2)}zz` }, /'key' must be 64 hex digits/],
      [dst, 'migrate-incoming', { ...target, encrypt: 1 }, /Invalid parameter type for 'encrypt', expected: boolean/],
      [src, 'migrate', { id: 5, uri: nats.url }, /Invalid parameter type for 'id', expected: string/],
      [src, 'migrate', { ...target, verify: 'yes' }, /Invalid parameter type for 'verify', expected: boolean/],
      [
        src,
        'migrate',
        { ...target, 'downtime-limit': '300' },
        /Invalid parameter type for 'downtime-limit', expected: number/,
      ],
      [src, 'migrate', { ...target, 'downtime-limit': 0 }, /'downtime-limit' must be at least 10 ms/],
      [src, 'migrate', { ...target, speed: 1 }, /'speed' is unexpected/],
      [src, 'migrate', { ...target, uri: '' }, /'uri' must not be empty/],
      // The VM process holds no cluster credentials: its client does the Redis step.
      [src, 'migrate', { ...target, redis: redisServer.url }, /'redis' is unexpected/],
      [dst, 'migrate-incoming', { ...target, instance }, /'instance' is unexpected/],
      [src, 'migrate-ownership', { request: 1, outcome: 'committed' }, /no ownership request 1 is waiting/],
      [src, 'migrate-ownership', { request: 1, outcome: 'yes' }, /'outcome' must be 'committed' or 'aborted'/],
      [src, 'migrate-ownership', { request: 1 }, /One of 'outcome' and 'error' is expected/],
      [dst, 'migrate-incoming', { ...target, blk: 'yes' }, /Invalid parameter type for 'blk', expected: boolean/],
      [src, 'migrate', { ...target, uri: 'nats://127.0.0.1:1' }, /cannot connect to NATS at nats:\/\/127.0.0.1:1/],
      [src, 'migrate-set-parameters', { 'max-bandwidth': -1 }, /'max-bandwidth' must be bytes\/s/],
      [src, 'migrate_cancel', undefined, /no outgoing migration is in progress/],
      [src, 'migrate-force-complete', undefined, /no outgoing migration is in progress/],
    ];
    for (const [s, cmd, args, desc] of cases) {
      // JSON drops the undefined members, as a client would never send them.
      await rejects(s.qmp.execute(cmd, args && JSON.parse(JSON.stringify(args))), desc);
    }
    for (const s of [src, dst]) assert.deepEqual(await s.qmp.execute('query-migrate'), { status: 'none' });
    assert.equal(await status(src), 'running');
    assert.equal(await status(dst), 'inmigrate');
    assert.deepEqual(
      [...src.events.events, ...dst.events.events].filter((e) => e.event.startsWith('MIGRATION')),
      [],
    );

    // One migration at a time: here the source waits for a destination that is not listening.
    await src.qmp.execute('migrate', { id: `${id}-nobody`, uri: nats.url, key });
    await rejects(src.qmp.execute('migrate', target), /a migration is already in progress \(outgoing, status setup\)/);
    await rejects(src.qmp.execute('dirty-log-start'), /a migration is in progress/);
    await dst.qmp.execute('migrate-incoming', target);
    await rejects(
      dst.qmp.execute('migrate-incoming', target),
      /a migration is already in progress \(incoming, status active\)/,
    );
    await rejects(dst.qmp.execute('loadvm', { path: join(tmp.dir, 'none') }), /a migration is in progress/);
    assert.deepEqual(await src.qmp.execute('migrate_cancel'), {});
    const out = await migrationEnd(src.events);
    assert.deepEqual(out.statuses, ['setup', 'cancelled']);
    assert.match(out.end.error!, /cancelled by request/);
    assert.equal(await status(src), 'running');
    await ticksOn(src, lastTick(src.vm.out));
    assert.equal(await redis.get(redisKeys.instanceOwner(instance)), 'node-a');

    // Quitting mid-migration ends it, and nothing (no NATS or Redis connection) holds the process.
    await src.qmp.execute('migrate', { id: `${id}-quit`, uri: nats.url, key });
    await src.qmp.execute('quit');
    assert.equal((await src.vm.exited).code, 0);
  });

  it('a destination started with --paused stays paused after the migration until cont', async () => {
    const { src, dst, id } = await pair(['--paused']);
    await dst.qmp.execute('migrate-incoming', { id, uri: nats.url, key });
    await src.qmp.execute('migrate', { id, uri: nats.url, key, encrypt: false });
    assert.equal((await migrationEnd(dst.events)).end.status, 'completed');
    assert.equal(await status(dst), 'paused');
    const last = lastTick(src.vm.out);
    await sleep(500);
    assert.equal(lastTick(dst.vm.out), 0, 'the guest did not run');
    assert.ok(!dst.events.events.some((e) => e.event === 'RESUME'));
    await dst.qmp.execute('cont');
    await ticksOn(dst, last);
    assert.ok(dst.events.events.some((e) => e.event === 'RESUME'));
  });

  it('a destination whose supervisor disconnects aborts and ends: the source keeps the guest, the destination never resumes', async () => {
    const { src, dst, instance, id } = await pair();
    // The supervisor's own connection; `dst.qmp` only watches.
    const supervisor = await connect(dst.vm);
    const agent = ownership(instance, src, dst);
    await supervisor.execute('migrate-incoming', { id, uri: nats.url, ...agent });
    // A slow link keeps the migration going for a while.
    await src.qmp.execute('migrate', { id, uri: nats.url, ...agent, 'max-bandwidth': SLOW });
    await eventAfter(src.events, 'MIGRATION_PROGRESS');
    supervisor.close();

    const inc = await migrationEnd(dst.events);
    assert.equal(inc.end.status, 'failed');
    assert.match(inc.end.error!, /the supervisor went away/);
    const out = await migrationEnd(src.events);
    assert.equal(out.end.status, 'failed');
    assert.match(out.end.error!, /destination aborted: the supervisor went away/);
    assert.equal(await status(src), 'running');
    await ticksOn(src, lastTick(src.vm.out));
    // Nobody is left to quit it: the process ends by itself, as QEMU's does.
    await dst.vm.exited;
    assert.ok(!dst.events.events.some((e) => e.event === 'RESUME'), 'the destination never resumed');
    assert.equal(lastTick(dst.vm.out), 0, 'the guest never ran at the destination');
    assert.equal(await redis.get(redisKeys.instanceOwner(instance)), 'node-a');
  });

  it('migrate_cancel leaves the guest running at the source; a retry, sped up by migrate-set-parameters and force-complete, then completes', async () => {
    const { src, dst, instance, id } = await pair();
    const agent = ownership(instance, src, dst);
    await dst.qmp.execute('migrate-incoming', { id, uri: nats.url, ...agent });
    await src.qmp.execute('migrate', { id, uri: nats.url, ...agent, 'max-bandwidth': SLOW });
    await eventAfter(src.events, 'MIGRATION_PROGRESS');
    assert.deepEqual(await src.qmp.execute('migrate_cancel'), {});

    const out = await migrationEnd(src.events);
    assert.deepEqual(out.statuses, ['setup', 'active', 'cancelled']);
    const info = await src.qmp.execute<MigrationInfo>('query-migrate');
    assert.equal(info.status, 'cancelled');
    assert.match(info.error!, /cancelled by request/);
    assert.ok(info.transferred_bytes! > 0);
    assert.equal(await status(src), 'running');
    await ticksOn(src, lastTick(src.vm.out));
    const inc = await migrationEnd(dst.events);
    assert.equal(inc.end.status, 'failed');
    assert.match(inc.end.error!, /source aborted: cancelled by request/);
    assert.equal(await status(dst), 'inmigrate');
    assert.equal(await redis.get(redisKeys.instanceOwner(instance)), 'node-a');

    // The same destination takes the guest on a second try (every page is sent again).
    const retry = `${id}-2`;
    const [srcFrom, dstFrom] = [src.events.events.length, dst.events.events.length];
    await dst.qmp.execute('migrate-incoming', { id: retry, uri: nats.url, ...agent });
    await src.qmp.execute('migrate', { id: retry, uri: nats.url, ...agent, 'max-bandwidth': SLOW });
    await eventAfter(src.events, 'MIGRATION_PROGRESS', srcFrom);
    assert.deepEqual(
      await src.qmp.execute('migrate-set-parameters', { 'downtime-limit': 500, 'max-bandwidth': 0 }),
      {},
    );
    assert.deepEqual(await src.qmp.execute('migrate-force-complete'), {});
    assert.deepEqual((await migrationEnd(src.events, srcFrom)).statuses, ['setup', 'active', 'completed']);
    assert.equal((await src.qmp.execute<MigrationInfo>('query-migrate')).downtime_limit_ms, 500);
    assert.deepEqual((await migrationEnd(dst.events, dstFrom)).statuses, ['setup', 'active', 'completed']);
    assert.equal(await redis.get(redisKeys.instanceOwner(instance)), 'node-b');
    await ticksOn(dst, lastTick(src.vm.out));
  });

  it('without block migration, over a disk both use: the destination opens it only after End; the guest writes on; qemu-img check and e2fsck pass', async function () {
    this.timeout(600_000);
    const rootfs = await ensureRootfs();
    // The instance's overlay on "shared storage" (one file both processes name) over the root file system.
    const disk = join(tmp.dir, 'shared-disk.qcow2');
    const size = statSync(rootfs.image).size;
    Qcow2.create(disk, { size, backingFile: rootfs.image, backingFormat: 'raw' });
    const append = `console=ttyS0 root=/dev/vda rw rdinit=/none ${runArgs(['/bin/disktest,write,/data/f,1M,7', '/bin/disktest,churn,/data/churn'])}`;
    const flags = ['--kernel', rootfs.linux.image, '--append', append, '--memory', '64'];
    const src = startVm([...flags, '--disk', `${disk},format=qcow2`], { control: join(tmp.dir, `vm${++n}.sock`) });
    const srcQmp = await connect(src);
    const srcEvents = new EventLog(srcQmp);
    // Written and synced, then churning (writes in flight, in the page cache and in the overlay's caches).
    await src.waitOut(
      (o) => /DISK-OK write path=\/data\/f bytes=1048576 seed=7/.test(o) && /churning/.test(o),
      300_000,
    );
    const dst = startVm([...flags, '--disk', `${disk},format=qcow2,size=${size}`, '--incoming', 'defer'], {
      control: join(tmp.dir, `vm${++n}.sock`),
    });
    const dstQmp = await connect(dst);
    const dstEvents = new EventLog(dstQmp);
    const instance = `vmm-shared-${n}-${Date.now()}`;
    await redis.set(redisKeys.instanceOwner(instance), 'node-a');
    const id = `${instance}-m`;
    const agent = ownership(
      instance,
      { vm: src, qmp: srcQmp, events: srcEvents },
      { vm: dst, qmp: dstQmp, events: dstEvents },
    );
    await dstQmp.execute('migrate-incoming', { id, uri: nats.url, ...agent, blk: false });
    // A capped link keeps the migration going for a few seconds while the guest writes.
    await srcQmp.execute('migrate', {
      id,
      uri: nats.url,
      ...agent,
      blk: false,
      'max-bandwidth': 16 << 20,
    });
    // Open there means End came, and the source paused the guest before it sent End.
    let closedWhileRunning = 0;
    for (;;) {
      const info = await srcQmp.execute<MigrationInfo>('query-migrate');
      if (info.status === 'completed') break;
      // A migration that failed resumes the source: that is a failure of its own, said as such.
      assert.ok(info.status !== 'failed' && info.status !== 'cancelled', `migration ended: ${JSON.stringify(info)}`);
      const open = hasOpen(dst.child.pid!, disk);
      const running = (await srcQmp.execute<StatusInfo>('query-status')).running;
      if (open && running) {
        const now = await srcQmp.execute<MigrationInfo>('query-migrate');
        assert.fail(
          `the destination opened the disk while the source guest still ran (${JSON.stringify(now)}); ` +
            `its stderr: ${dst.err.slice(-2000)}`,
        );
      } else if (running) closedWhileRunning++;
      await sleep(100);
    }
    assert.ok(
      closedWhileRunning > 3,
      `saw the disk closed at the destination ${closedWhileRunning} times while the source ran`,
    );
    const out = await migrationEnd(srcEvents);
    assert.equal(out.end.status, 'completed', JSON.stringify(out.end));
    assert.equal((await migrationEnd(dstEvents)).end.status, 'completed');
    assert.equal(hasOpen(dst.child.pid!, disk), true, 'the destination opened it at the end');
    assert.equal(hasOpen(src.child.pid!, disk), false, 'the source closed it at once');
    const progress = await srcQmp.execute<MigrationInfo>('query-migrate');
    assert.equal(progress.disk_total_bytes ?? 0, 0, 'nothing of the disk travelled');

    // The guest goes on writing its file system at the destination.
    const i0 = (await dstQmp.execute<VmStats>('query-stats')).instructions;
    await sleep(5000);
    assert.ok(
      (await dstQmp.execute<VmStats>('query-stats')).instructions - i0 > 5e6,
      'the guest runs at the destination',
    );
    assert.doesNotMatch(dst.out, /EXT[24]-fs error|I\/O error|panic|BOOT-OK/, dst.out.slice(-2000));
    await srcQmp.execute('quit');
    await dstQmp.execute('system_powerdown');
    assert.equal((await dstEvents.next('SHUTDOWN', 60_000)).data?.reason, 'guest-shutdown');
    await dst.exited;

    qemuImg(['check', '-f', 'qcow2', disk]);
    const raw = join(tmp.dir, 'shared-disk.raw');
    qemuImg(['convert', '-f', 'qcow2', '-O', 'raw', disk, raw]);
    const check = fsck(raw);
    assert.equal(check.status, 0, check.output);
    assert.ok(
      readExt2File(raw, '/data/f', join(tmp.dir, 'shared-f.out')).equals(patternBytes(7, 1 << 20)),
      '/data/f holds what the guest wrote',
    );
  });
});
