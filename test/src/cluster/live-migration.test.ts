// Live migration of real Linux guests on a 3-node cluster (real NATS, Redis, agents and VM
// processes), driven through the API as an operator would: the guest prints a heartbeat every
// second, rewrites a memory buffer that checks itself (MEMCHECK-FAIL on corruption) and, before
// each heartbeat, a record of a file on its root disk, which comes along by block migration.
// Every heartbeat must show exactly once across the nodes' serial logs, whatever happens:
// back-and-forth migrations, abort, force-complete, and faults (destination VM or agent killed,
// nats-server restarted, source killed after the flip, the API gateway driving it killed); after
// migrations, the file on the disk must hold every record the heartbeats vouched for.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are read field by field */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureLinuxGuest, ensureRootfs } from '@hypernova/guest';
import { spawnRequest } from '@hypernova/api-gateway';
import { redisKeys } from '@hypernova/common';
import { getImage, getInstance, listMigrations, registerGuestImageSet, setHostEnabled } from '@hypernova/cluster-state';
import { fnv1a, patternBytes, writeFileContent } from '@hypernova/hypervisor/testing';
import { startGatewayProcess } from '../harness/index.js';
import { TestCluster, type AgentProcess } from './cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const at = (v: string) => ({ 'X-OpenStack-Nova-API-Version': v });
const MIGRATE = (host: string | null = null) => ({
  'os-migrateLive': { host, block_migration: true, disk_over_commit: false },
});
/** node-3 streams at 4 MiB/s: migrations away from it last long enough to interfere with. */
const SLOW_NODE = 'node-3';
const ROUNDS = Number(process.env.HYPERNOVA_MIGRATION_TEST_ROUNDS ?? 20);
/** e2fsprogs lives in /sbin on Debian, off a user's PATH. */
const SBIN_PATH = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
/** The file init writes, then rewrites a 4 KiB record of per heartbeat (hn.write_file): 64 records. */
const BEATS_FILE = { path: '/data/beats', bytes: 256 << 10, seed: 7 };

/**
 * Everything a guest printed on any node: each node's console.log of the instance is read as it
 * grows (and its last content kept when the directory goes with a migration away).
 */
class ConsoleCollector {
  private readonly segments = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly agents: () => AgentProcess[],
    private readonly uuid: string,
  ) {
    this.timer = setInterval(() => this.poll(), 50);
  }

  poll(): void {
    for (const a of this.agents()) {
      const now = a.consoleLog(this.uuid);
      const segs = this.segments.get(a.name) ?? [];
      const last = segs.at(-1);
      if (last === undefined || (now.length > 0 && !now.startsWith(last))) segs.push(now);
      else if (now.length > last.length) segs[segs.length - 1] = now;
      this.segments.set(a.name, segs);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.poll();
  }

  text(): string {
    return [...this.segments.values()].flat().join('\n');
  }

  /** Heartbeat numbers in the order seen per node segment, all nodes together. */
  heartbeats(): number[] {
    return [...this.text().matchAll(/heartbeat (\d+)/g)].map((m) => Number(m[1]));
  }

  /** Every heartbeat from the first to the last exactly once; no memory check failed. */
  assertIntact(): number {
    this.poll();
    const beats = this.heartbeats().sort((a, b) => a - b);
    assert.ok(beats.length > 0, 'no heartbeat at all');
    for (let i = 1; i < beats.length; i++) {
      assert.equal(beats[i], beats[i - 1] + 1, `heartbeat ${beats[i - 1]} then ${beats[i]} (missing or repeated)`);
    }
    assert.doesNotMatch(this.text(), /MEMCHECK-FAIL|DISK-FAIL/);
    return beats.at(-1) as number;
  }

  async waitBeats(n: number, timeoutMs = 30_000): Promise<void> {
    const start = Math.max(0, ...this.heartbeats());
    const deadline = Date.now() + timeoutMs;
    while (Math.max(0, ...this.heartbeats()) < start + n) {
      if (Date.now() > deadline) throw new Error(`no ${n} new heartbeats: ${this.text().slice(-500)}`);
      await sleep(200);
      this.poll();
    }
  }
}

describe('live migration on a 3-node cluster (real Linux guests)', function () {
  this.timeout(600_000);
  let c: TestCluster;
  let loaded: string; // the image booting from its root disk with the memory rewriter
  let rootImage: string;
  const collectors: ConsoleCollector[] = [];

  before(async function () {
    const { image } = await ensureLinuxGuest();
    c = await TestCluster.start({
      vm: 'real',
      kernel: image,
      nodes: 2,
      agent: { vcpus: 8, ramMb: 2048, env: { COMPUTE_MIGRATION_VERIFY: 'true' } },
      // A migration whose gateway died is taken over within a second or two.
      gatewayEnv: { HYPERNOVA_MIGRATION_LEASE_MS: '1000' },
    });
    await c.addAgent(SLOW_NODE, {
      vcpus: 8,
      ramMb: 2048,
      env: { COMPUTE_MIGRATION_VERIFY: 'true', COMPUTE_MIGRATION_MAX_BANDWIDTH: String(4 << 20) },
    });
    // node-3 takes only the guests booted there on purpose (and never a migration's destination).
    await setHostEnabled(c.redis, SLOW_NODE, false);
    const rootfs = await ensureRootfs();
    rootImage = rootfs.image;
    loaded = (
      await registerGuestImageSet(c.nc, c.redis, {
        kernel: rootfs.linux.image,
        rootDisk: rootfs.image,
        rootDiskFormat: 'raw',
        rootCommandLine:
          'console=ttyS0 root=/dev/vda rw rdinit=/none hn.dirty_mib_s=4 hn.wss_mib=8 ' +
          `hn.write_file=${BEATS_FILE.path},${BEATS_FILE.bytes},${BEATS_FILE.seed}`,
      })
    ).id;
  });

  after(async () => {
    for (const col of collectors) col.stop();
    await c?.stop();
  });

  const hostOf = async (id: string): Promise<string> => (await c.server(id))['OS-EXT-SRV-ATTR:host'];
  const collect = (id: string) => {
    const col = new ConsoleCollector(() => c.agents, id);
    collectors.push(col);
    return col;
  };

  /** Which hosts take new guests: node-3 alone (slow) or the others. */
  async function place(slow: boolean): Promise<void> {
    for (const a of c.agents) await setHostEnabled(c.redis, a.name, (a.name === SLOW_NODE) === slow);
    await sleep(500); // the schedulers re-read hosts every 200 ms
  }

  async function boot(
    name: string,
    opts: { imageRef?: string; slow?: boolean } = {},
  ): Promise<{ id: string; col: ConsoleCollector }> {
    if (opts.slow) await place(true);
    let id: string;
    try {
      id = await c.createServer(name, { imageRef: opts.imageRef ?? loaded });
      await c.waitStatus(id, 'ACTIVE', 60_000);
    } finally {
      if (opts.slow) await place(false);
    }
    const col = collect(id);
    await col.waitBeats(2, 120_000);
    return { id, col };
  }

  async function lastMigration(id: string): Promise<any> {
    const list = (await c.request('GET', `/compute/v2.1/os-migrations?instance_uuid=${id}`)).body.migrations;
    return list[0];
  }

  /** Migrates and waits until the instance is ACTIVE again; returns the migration record. */
  async function migrate(id: string, host: string | null = null, timeoutMs = 60_000): Promise<any> {
    const res = await c.action(id, MIGRATE(host));
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await c.waitServer(id, (s) => s['OS-EXT-STS:task_state'] === null && s.status !== 'MIGRATING', timeoutMs);
    return lastMigration(id);
  }

  /** Waits until the instance's last migration has one of the statuses ('a|b'). */
  async function waitMigrationStatus(id: string, status: string, timeoutMs = 30_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    const wanted = status.split('|');
    for (;;) {
      const m = await lastMigration(id);
      if (wanted.includes(m?.status)) return m;
      if (Date.now() > deadline) throw new Error(`migration of ${id}: ${JSON.stringify(m)}`);
      await sleep(100);
    }
  }

  /** A file's content in an ext2 image (debugfs reads it without mounting). */
  const ext2File = (img: string, path: string) =>
    execFileSync('debugfs', ['-R', `cat ${path}`, img], { stdio: ['ignore', 'pipe', 'ignore'], env: SBIN_PATH });

  /**
   * Powers the instance off cleanly and looks into its root disk where it now lives: the file
   * system checks clean, a file of the base image reads the same, and BEATS_FILE holds the
   * pattern the guest reported writing with every record its last heartbeat vouched for.
   */
  /** `disk`: where the instance's disk is when not in its host's own instances path. */
  async function assertDiskIntact(id: string, col: ConsoleCollector, disk?: string): Promise<void> {
    assert.equal((await c.action(id, { 'os-stop': null })).status, 202);
    await c.waitStatus(id, 'SHUTOFF', 60_000);
    col.stop();
    disk ??= join(c.agent(await hostOf(id)).stateDir, 'instances', id, 'disk.qcow2');
    const raw = join(c.dir, `${id}.raw`);
    execFileSync('qemu-img', ['convert', '-O', 'raw', disk, raw]);
    execFileSync('e2fsck', ['-fn', raw], { stdio: 'pipe', env: SBIN_PATH });
    assert.ok(
      ext2File(raw, '/sbin/init').equals(ext2File(rootImage, '/sbin/init')),
      '/sbin/init reads the same as in the image',
    );
    const { path, bytes, seed } = BEATS_FILE;
    assert.match(
      col.text(),
      new RegExp(`DISK-OK write path=${path} bytes=${bytes} seed=${seed} fnv=${fnv1a(patternBytes(seed, bytes))}`),
    );
    const beats = Math.max(...col.heartbeats());
    const file = ext2File(raw, path);
    // The power-off (sysrq s, u, o) may catch init writing the next record, never reported.
    if (!file.equals(writeFileContent(bytes, seed, beats + 1))) {
      const want = writeFileContent(bytes, seed, beats);
      const at = want.findIndex((b, i) => file[i] !== b);
      assert.ok(
        file.equals(want),
        `${path} after heartbeat ${beats}: ${file.length} bytes, first wrong at ${at} (record ${at >> 12})`,
      );
    }
    rmSync(raw);
  }

  it('moves a running guest that rewrites its memory and a file: every heartbeat once, memory and disk intact', async () => {
    const { id, col } = await boot('mover');
    const from = await hostOf(id);
    const m = await migrate(id);
    assert.equal(m.status, 'completed', JSON.stringify(m));
    const to = await hostOf(id);
    assert.notEqual(to, from);
    assert.equal(await c.redis.get(redisKeys.instanceOwner(id)), to);
    assert.equal(c.agent(from).vmPids().has(id), false, 'the source let the instance go');
    await col.waitBeats(3);
    col.assertIntact();
    // The root disk came along, with the records written around the move.
    await assertDiskIntact(id, col);
    await c.deleteServer(id);
  });

  it('discards the VM it prepared when the rollback overtakes the prepare (a gateway that gave up)', async () => {
    const { id, col } = await boot('overtaken');
    const from = await hostOf(id);
    const dest = c.agents.find((a) => a.name !== from && a.name !== SLOW_NODE) as AgentProcess;
    const rec = (await getInstance(c.redis, id))!;
    const instance = spawnRequest({ instance: rec, image: (await getImage(c.redis, rec.imageId))! }, randomUUID());
    const ref = { instanceUuid: id, migrationId: randomUUID() };
    const prepared = c.rpc(dest, 'prepareLiveMigration', {
      instance,
      migrationId: ref.migrationId,
      sourceHost: from,
      blockMigration: true,
      migrationKey: randomBytes(32),
    });
    await sleep(20); // the prepare is under way: image, overlay, then the VM process
    const rolledBack = await c.rpc(dest, 'rollbackLiveMigration', ref);
    await prepared.catch(() => undefined);
    assert.equal(rolledBack.existed, true, 'the rollback found the prepared instance');
    assert.equal(dest.vmPids().has(id), false, 'no VM process left waiting at the destination');
    assert.ok(!(await c.rpc(dest, 'listInstances', {})).instances.some((i: any) => i.instanceUuid === id));
    assert.equal(await hostOf(id), from);
    await col.waitBeats(2);
  });

  it('keeps an idle (WFI) guest ticking after it moved', async () => {
    const { id, col } = await boot('idler', { imageRef: c.image.id });
    const m = await migrate(id);
    assert.equal(m.status, 'completed');
    await col.waitBeats(3, 15_000);
    col.assertIntact();
    await c.deleteServer(id);
  });

  it(`migrates back and forth ${ROUNDS} times under load, two VMs at once`, async () => {
    const a = await boot('ping');
    const b = await boot('pong');
    for (let i = 0; i < ROUNDS; i++) {
      const [ma, mb] = await Promise.all([
        migrate(a.id, i % 2 ? 'node-1' : 'node-2').catch((e) => e),
        i < 2 ? migrate(b.id) : undefined,
      ]);
      if (ma instanceof Error || ma.status !== 'completed') {
        // The scheduler may have put the guest on the host this round names: then it is a 400.
        assert.match(String(ma.message ?? ma.status), /current host|completed/);
      }
      if (mb) assert.equal(mb.status, 'completed');
    }
    await a.col.waitBeats(2);
    a.col.assertIntact();
    b.col.assertIntact();
    const done = (await c.request('GET', `/compute/v2.1/os-migrations?instance_uuid=${a.id}&status=completed`)).body
      .migrations;
    assert.ok(done.length >= ROUNDS - 1, `${done.length} completed migrations`);
    // A record a second: some land while a migration runs, and must go again as dirty blocks.
    await Promise.all([assertDiskIntact(a.id, a.col), assertDiskIntact(b.id, b.col)]);
    await Promise.all([c.deleteServer(a.id), c.deleteServer(b.id)]);
  });

  describe('from the slow node', () => {
    let id: string;
    let col: ConsoleCollector;

    beforeEach(async () => {
      ({ id, col } = await boot('slow', { slow: true }));
      assert.equal(await hostOf(id), SLOW_NODE);
    });
    afterEach(async () => {
      col.assertIntact();
      // On whichever node the guest ended, after a completed, aborted or failed migration.
      await assertDiskIntact(id, col);
      await c.deleteServer(id);
    });

    async function startMigration(): Promise<any> {
      assert.equal((await c.action(id, MIGRATE())).status, 202);
      return waitMigrationStatus(id, 'running');
    }

    async function staysOnSource(): Promise<void> {
      await waitMigrationStatus(id, 'error|cancelled', 60_000);
      const s = await c.waitStatus(id, 'ACTIVE', 30_000);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], SLOW_NODE);
      assert.equal(await c.redis.get(redisKeys.instanceOwner(id)), SLOW_NODE);
      await col.waitBeats(2);
    }

    it('aborts (2.24) and the guest runs on at the source; force_complete (2.22) switches over at once', async () => {
      let m = await startMigration();
      const del = await c.request('DELETE', `/compute/v2.1/servers/${id}/migrations/${m.id}`, undefined, c.adminToken);
      assert.equal(del.status, 404, 'no DELETE below 2.24');
      const abort = await fetch(`${c.gateway.url}/compute/v2.1/servers/${id}/migrations/${m.id}`, {
        method: 'DELETE',
        headers: { 'x-auth-token': c.adminToken, ...at('2.24') },
      });
      assert.equal(abort.status, 202, await abort.text());
      await waitMigrationStatus(id, 'cancelled');
      await staysOnSource();
      const others = c.agents.filter((a) => a.name !== SLOW_NODE);
      assert.ok(
        others.every((a) => !a.vmPids().has(id)),
        'the destination VM is gone',
      );

      m = await startMigration();
      // The source node records its progress as it goes (about every 500 ms).
      let body: any;
      for (let tries = 0; !(body?.migration?.memory_total_bytes > 0); tries++) {
        assert.ok(tries < 100, `no progress recorded: ${JSON.stringify(body)}`);
        await sleep(100);
        const res = await fetch(`${c.gateway.url}/compute/v2.1/servers/${id}/migrations/${m.id}`, {
          headers: { 'x-auth-token': c.adminToken, ...at('2.23') },
        });
        body = await res.json();
      }
      assert.ok(body.migration.memory_processed_bytes > 0, JSON.stringify(body));
      const force = await fetch(`${c.gateway.url}/compute/v2.1/servers/${id}/migrations/${m.id}/action`, {
        method: 'POST',
        headers: { 'x-auth-token': c.adminToken, 'content-type': 'application/json', ...at('2.22') },
        body: JSON.stringify({ force_complete: null }),
      });
      assert.equal(force.status, 202, await force.text());
      // At 4 MiB/s the whole RAM would take many seconds; forced, the rest goes in the pause.
      await waitMigrationStatus(id, 'completed', 20_000);
      assert.notEqual(await hostOf(id), SLOW_NODE);
      await col.waitBeats(2);
    });

    it('survives the destination VM process being killed', async () => {
      const m = await startMigration();
      const dest = c.agent(m.dest_compute);
      const pid = dest.vmPids().get(id);
      assert.ok(pid, 'the destination has a VM process waiting');
      process.kill(pid, 'SIGKILL');
      await staysOnSource();
    });

    it('survives the destination agent being killed (and comes back clean)', async () => {
      const m = await startMigration();
      const dest = c.agent(m.dest_compute);
      await dest.proc.kill();
      await staysOnSource();
      await dest.start();
      await sleep(1000);
      assert.equal(dest.vmPids().has(id), false, 'the restarted agent discarded the waiting VM');
    });

    it('survives nats-server restarting mid-transfer', async () => {
      await startMigration();
      await c.infra.nats.restart({ crash: true });
      // Either outcome is fine as long as it is one: the guest runs exactly once, where the owner key says.
      const m = await waitMigrationStatus(id, 'error|completed', 60_000);
      const s = await c.waitStatus(id, 'ACTIVE', 30_000);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], m.status === 'completed' ? m.dest_compute : SLOW_NODE);
      assert.equal(await c.redis.get(redisKeys.instanceOwner(id)), s['OS-EXT-SRV-ATTR:host']);
      await col.waitBeats(2);
    });

    it('is taken over by another gateway when the one driving it dies, and the guest lands once', async () => {
      const doomed = await startGatewayProcess(c.gatewayEnv());
      try {
        const res = await fetch(`${doomed.url}/compute/v2.1/servers/${id}/action`, {
          method: 'POST',
          headers: { 'x-auth-token': c.adminToken, 'content-type': 'application/json' },
          body: JSON.stringify(MIGRATE()),
        });
        assert.equal(res.status, 202, await res.text());
        const deadline = Date.now() + 30_000;
        while ((await c.rpc(c.agent(SLOW_NODE), 'getInstanceInfo', { instanceUuid: id })).task !== 'migrating') {
          assert.ok(Date.now() < deadline, 'the source never started migrating');
          await sleep(50);
        }
      } finally {
        await doomed.process.kill();
      }
      // The cluster's gateway takes it over once the dead one's lease lapses (holders are host/pid/random).
      const { uuid } = (await listMigrations(c.redis, { instanceUuid: id })).at(-1)!;
      const deadline = Date.now() + 10_000;
      while (!(await c.redis.get(redisKeys.migrationLease(uuid)))?.startsWith(`${hostname()}/${process.pid}/`)) {
        assert.ok(Date.now() < deadline, 'nobody took the migration over');
        await sleep(100);
      }
      // At 4 MiB/s it is still copying: force the switch-over; the new gateway sees it end and completes it.
      const m = await waitMigrationStatus(id, 'running');
      const force = await fetch(`${c.gateway.url}/compute/v2.1/servers/${id}/migrations/${m.id}/action`, {
        method: 'POST',
        headers: { 'x-auth-token': c.adminToken, 'content-type': 'application/json', ...at('2.22') },
        body: JSON.stringify({ force_complete: null }),
      });
      assert.equal(force.status, 202, await force.text());
      const done = await waitMigrationStatus(id, 'completed', 30_000);
      const s = await c.waitStatus(id, 'ACTIVE', 30_000);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], done.dest_compute);
      assert.equal(await c.redis.get(redisKeys.instanceOwner(id)), done.dest_compute);
      assert.equal(c.agent(SLOW_NODE).vmPids().has(id), false, 'the source let the instance go');
      await col.waitBeats(2);
    });

    it('runs on at the destination when the source VM dies after the flip', async () => {
      const source = c.agent(SLOW_NODE);
      const pid = source.vmPids().get(id) as number;
      const m = await startMigration();
      await fetch(`${c.gateway.url}/compute/v2.1/servers/${id}/migrations/${m.id}/action`, {
        method: 'POST',
        headers: { 'x-auth-token': c.adminToken, 'content-type': 'application/json', ...at('2.22') },
        body: JSON.stringify({ force_complete: null }),
      });
      const deadline = Date.now() + 20_000;
      while ((await c.redis.get(redisKeys.instanceOwner(id))) !== m.dest_compute) {
        assert.ok(Date.now() < deadline, 'ownership never flipped');
        await sleep(5);
      }
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // it may have finished and quit already
      }
      const done = await waitMigrationStatus(id, 'completed', 30_000);
      const s = await c.waitStatus(id, 'ACTIVE', 30_000);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], done.dest_compute);
      await col.waitBeats(2);
    });
  });
  describe('on storage two nodes share (no block migration)', () => {
    const ZONE = 'shared';
    const LONER = 'node-6';
    let sharedDir: string;

    before(async () => {
      sharedDir = join(c.dir, 'shared-instances');
      const env = { COMPUTE_MIGRATION_VERIFY: 'true', COMPUTE_AVAILABILITY_ZONE: ZONE };
      for (const name of ['node-4', 'node-5'])
        await c.addAgent(name, { vcpus: 8, ramMb: 2048, env: { ...env, COMPUTE_INSTANCES_DIR: sharedDir } });
      // In the same zone, storage of its own and the most free RAM (the scheduler's first pick):
      // taken out while the guest is placed, back for the migration.
      await c.addAgent(LONER, { vcpus: 8, ramMb: 8192, env });
      await setHostEnabled(c.redis, LONER, false);
      await sleep(500); // the schedulers re-read hosts every 200 ms
    });

    it('moves the guest to a host sharing its disk (skipping one that does not): every heartbeat once, the file it rewrites intact', async () => {
      const id = await c.createServer('sharer', { imageRef: loaded, extra: { availability_zone: ZONE } });
      await c.waitStatus(id, 'ACTIVE', 60_000);
      const col = collect(id);
      await col.waitBeats(2, 120_000);
      const from = await hostOf(id);
      const disk = join(sharedDir, id, 'disk.qcow2');
      const inode = statSync(disk).ino;
      await setHostEnabled(c.redis, LONER, true);
      await sleep(500);
      const res = await c.action(id, {
        'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false },
      });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      await c.waitServer(id, (s) => s['OS-EXT-STS:task_state'] === null && s.status !== 'MIGRATING', 60_000);
      const m = await lastMigration(id);
      assert.equal(m.status, 'completed', JSON.stringify(m));
      const to = await hostOf(id);
      assert.notEqual(to, from);
      assert.notEqual(to, LONER, 'the host not sharing the storage was passed over, as Nova does');
      assert.equal(statSync(disk).ino, inode, 'the guest runs on the very same disk file');
      await col.waitBeats(3);
      col.assertIntact();
      await assertDiskIntact(id, col, disk);
      await c.deleteServer(id);
    });
  });
});
