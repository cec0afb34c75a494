// Live migration through the API against stand-in nodes (real Redis, NATS, scheduler and gRPC):
// the prechecks and Nova's 4xx errors, the destination claim and its hand-over, the migration
// records (os-migrations, /servers/{id}/migrations with progress), force_complete, abort and a
// failing migration that leaves the instance where it was, a gateway that dies mid-migration (the
// next gateway takes the migration over and settles it), a server deleted while it migrates. The
// real VM-to-VM migration is
// tested on a cluster of real nodes (test/src/cluster/live-migration.test.ts).
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { redisKeys } from '@hypernova/common';
import { listMigrations, type MigrationRecord } from '@hypernova/cluster-state';
import { startGatewayProcess } from '../harness/index.js';
import { Cluster } from './cluster.js';
import type { FakeComputeNode } from './fake-compute.js';

const at = (v: string) => ({ 'X-OpenStack-Nova-API-Version': v });
const live21 = (host: string | null = null, block: boolean | string = true) => ({
  'os-migrateLive': { host, block_migration: block, disk_over_commit: false },
});
const live25 = (host: string | null = null, block: boolean | string = 'auto') => ({
  'os-migrateLive': { host, block_migration: block },
});

describe('api-gateway: live migration (stand-in nodes)', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    // The cluster's gateway sweeps only when it starts: the gateways a test starts take over.
    c = await Cluster.start({ nodes: [{}, {}, { ramMb: 32 }], env: { HYPERNOVA_MIGRATION_LEASE_MS: '600000' } });
  });
  after(async () => {
    await c?.stop();
  });
  afterEach(async () => {
    for (const n of c.nodes) {
      n.migrateMs = 0;
      n.failMigration = undefined;
      n.storage = n.name;
    }
    const list = await c.compute('GET', '/servers?all_tenants=1');
    for (const s of list.body.servers) await c.compute('DELETE', `/servers/${s.id}`);
    for (const s of list.body.servers) await c.waitServer(s.id, 'gone');
  });

  const node = (name: string): FakeComputeNode => c.nodes.find((n) => n.name === name)!;
  const hostOf = async (id: string): Promise<string> =>
    (await c.compute('GET', `/servers/${id}`)).body.server['OS-EXT-SRV-ATTR:host'];

  /** A server on node-1 or node-2 (node-3 is too small for flavor 1), and the other of the two. */
  async function server(name: string): Promise<{ id: string; host: string; other: string }> {
    const id = await c.createServer(name);
    const host = (await c.waitStatus(id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'];
    return { id, host, other: host === 'node-1' ? 'node-2' : 'node-1' };
  }
  const slowMigrations = (ms: number) => c.nodes.forEach((n) => (n.migrateMs = ms));

  async function migration(id: string, status: string): Promise<any> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const all = (await c.compute('GET', `/os-migrations?instance_uuid=${id}`, { headers: at('2.23') })).body
        .migrations;
      if (all[0]?.status === status) return all[0];
      if (Date.now() > deadline) throw new Error(`migration of ${id}: ${JSON.stringify(all)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('migrates to a host the scheduler picks, moving the claim and the record, with progress while it runs', async () => {
    const { id, host, other } = await server('mover');
    slowMigrations(1500);
    const res = await c.compute('POST', `/servers/${id}/action`, { body: live21() });
    assert.equal(res.status, 202, res.text);
    const during = await c.waitServer(id, (s) => s.status === 'MIGRATING');
    assert.equal(during['OS-EXT-STS:task_state'], 'migrating');

    const list = await c.compute('GET', `/servers/${id}/migrations`, { headers: at('2.23') });
    assert.equal(list.status, 200, list.text);
    const [m] = list.body.migrations;
    assert.equal(m.server_uuid, id);
    assert.equal(m.source_compute, host);
    assert.equal(m.dest_compute, other, 'node-3 is too small for the flavor');
    assert.ok(['preparing', 'running'].includes(m.status), m.status);
    const shown = await c.compute('GET', `/servers/${id}/migrations/${m.id}`, { headers: at('2.23') });
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(Object.keys(shown.body.migration).sort(), Object.keys(m).sort());
    const running = await c
      .waitServer(id, () => true)
      .then(async () => {
        for (;;) {
          const x = (await c.compute('GET', `/servers/${id}/migrations/${m.id}`, { headers: at('2.23') })).body
            .migration;
          if (x.memory_total_bytes > 0) return x;
          await new Promise((r) => setTimeout(r, 50));
        }
      });
    assert.equal(running.memory_total_bytes, 64 << 20, 'the source node records its progress');
    // A second migration of the same instance meanwhile: 409.
    assert.equal((await c.compute('POST', `/servers/${id}/action`, { body: live21() })).status, 409);

    const after = await c.waitStatus(id, 'ACTIVE');
    assert.equal(after['OS-EXT-SRV-ATTR:host'], other);
    const done = await migration(id, 'completed');
    assert.equal(done.migration_type, 'live-migration');
    assert.equal(done.links, undefined, 'links only while in progress');
    assert.equal(
      (await c.compute('GET', `/servers/${id}/migrations`, { headers: at('2.23') })).body.migrations.length,
      0,
    );
    assert.equal((await c.compute('GET', `/servers/${id}/migrations/${m.id}`, { headers: at('2.23') })).status, 404);
    // The claim moved: the instance's allocation is on the destination, the migration's is gone.
    assert.equal(await c.redis.hget(redisKeys.allocation(id), 'host'), other);
    assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(other)), [id]);
    assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(host)), []);
    assert.equal(await c.redis.get(redisKeys.instanceOwner(id)), other);
    const hv = (await c.compute('GET', '/os-hypervisors/detail')).body.hypervisors;
    const used = (name: string) => hv.find((h: any) => h.hypervisor_hostname === name).memory_mb_used;
    assert.ok(used(other) > used(host), JSON.stringify(hv.map((h: any) => [h.hypervisor_hostname, h.memory_mb_used])));
    // The 2.1 list has exactly Nova's 2.1 keys.
    const old = (await c.compute('GET', '/os-migrations')).body.migrations[0];
    assert.equal(old.migration_type, undefined);
    assert.equal(old.instance_uuid, id);
  });

  it('migrates to a named host at 2.25 with block_migration auto, and force_complete (2.22) switches over at once', async () => {
    const { id, other } = await server('named');
    slowMigrations(30_000);
    const res = await c.compute('POST', `/servers/${id}/action`, { body: live25(other), headers: at('2.25') });
    assert.equal(res.status, 202, res.text);
    await c.waitServer(id, (s) => s.status === 'MIGRATING');
    const m = await migration(id, 'running');
    assert.equal(m.links.length, 2, 'in-progress live migrations have links at 2.23');
    assert.ok(m.links[0].href.endsWith(`/servers/${id}/migrations/${m.id}`));
    assert.equal(
      (
        await c.compute('POST', `/servers/${id}/migrations/${m.id}/action`, {
          body: { force_complete: null },
          headers: at('2.21'),
        })
      ).status,
      404,
    );
    const forced = await c.compute('POST', `/servers/${id}/migrations/${m.id}/action`, {
      body: { force_complete: null },
      headers: at('2.22'),
    });
    assert.equal(forced.status, 202, forced.text);
    const s = await c.waitStatus(id, 'ACTIVE');
    assert.equal(s['OS-EXT-SRV-ATTR:host'], other);
    await migration(id, 'completed');
    // Now it is over, force_complete is refused.
    const late = await c.compute('POST', `/servers/${id}/migrations/${m.id}/action`, {
      body: { force_complete: null },
      headers: at('2.22'),
    });
    assert.equal(late.status, 400, late.text);
  });

  it('gives each migration a key of its own, the same to both nodes, and keeps it out of Redis', async () => {
    const { id, host, other } = await server('keyed');
    const keys: string[] = [];
    for (const [from, to] of [
      [host, other],
      [other, host],
    ] as const) {
      const res = await c.compute('POST', `/servers/${id}/action`, { body: live21(to) });
      assert.equal(res.status, 202, res.text);
      await c.waitServer(id, (s) => s.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] === to);
      const [prepared, migrated] = [node(to).prepared.at(-1)!, node(from).migrated.at(-1)!];
      assert.equal(prepared.migrationId, migrated.migrationId);
      assert.equal(prepared.migrationKey.length, 32);
      assert.deepEqual(Buffer.from(prepared.migrationKey), Buffer.from(migrated.migrationKey));
      keys.push(Buffer.from(migrated.migrationKey).toString('hex'));
    }
    assert.notEqual(keys[0], keys[1]);
    for (const k of await c.redis.keys('*')) {
      const type = await c.redis.type(k);
      const value =
        type === 'string' ? await c.redis.get(k) : JSON.stringify(await c.redis.hgetall(k).catch(() => ({})));
      for (const key of keys) assert.ok(!String(value).includes(key), `${k} holds a migration key`);
    }
  });

  it('migrates without block migration only between nodes sharing the storage (found by probe); auto picks it there', async () => {
    const { id, host, other } = await server('shared');
    node(host).storage = node(other).storage = 'nfs';
    // False, where both see the probe: accepted, and the nodes are told so.
    let res = await c.compute('POST', `/servers/${id}/action`, { body: live21(other, false) });
    assert.equal(res.status, 202, res.text);
    await c.waitServer(id, (s) => s.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] === other);
    assert.equal(node(other).prepared.at(-1)?.blockMigration, false);
    assert.equal((await migration(id, 'completed')).status, 'completed');
    // The probe was made on the destination, looked for on the source, and removed.
    assert.ok(node(other).calls.includes(`CheckCanLiveMigrateDestination ${id}`), node(other).calls.join('\n'));
    assert.ok(node(host).calls.includes(`CheckCanLiveMigrateSource ${id}`));
    assert.ok(node(other).calls.some((x) => x.startsWith('CleanupLiveMigrationCheck .hn-shared-probe-')));
    // 2.25's auto on shared storage: no block migration (back to the first host).
    res = await c.compute('POST', `/servers/${id}/action`, { body: live25(host), headers: at('2.25') });
    assert.equal(res.status, 202, res.text);
    await c.waitServer(id, (s) => s.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] === host);
    assert.equal(node(host).prepared.at(-1)?.blockMigration, false);
    // Block migration onto the very disk it would copy: Nova's 400.
    res = await c.compute('POST', `/servers/${id}/action`, { body: live21(other, true) });
    assert.equal(res.status, 400, res.text);
    assert.match(res.body.badRequest.message, /Block migration can not be used with shared storage/);
    // Storage of their own: auto picks block migration, and false is refused with Nova's 400, its claim released.
    node(host).storage = host;
    node(other).storage = other;
    res = await c.compute('POST', `/servers/${id}/action`, { body: live21(other, false) });
    assert.equal(res.status, 400, res.text);
    assert.match(res.body.badRequest.message, new RegExp(`${other} is not on shared storage`));
    assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(other)), [], 'the destination claim is released');
    assert.equal((await c.compute('GET', `/servers/${id}`)).body.server['OS-EXT-STS:task_state'], null);
    res = await c.compute('POST', `/servers/${id}/action`, { body: live25(other), headers: at('2.25') });
    assert.equal(res.status, 202, res.text);
    await c.waitServer(id, (s) => s.status === 'ACTIVE' && s['OS-EXT-SRV-ATTR:host'] === other);
    assert.equal(node(other).prepared.at(-1)?.blockMigration, true);
  });

  it('aborts (2.24): the instance stays on the source and the destination claim and VM go', async () => {
    const { id, host, other } = await server('stayer');
    slowMigrations(30_000);
    assert.equal((await c.compute('POST', `/servers/${id}/action`, { body: live21(other) })).status, 202);
    const m = await migration(id, 'running');
    assert.equal((await c.compute('DELETE', `/servers/${id}/migrations/${m.id}`, { headers: at('2.23') })).status, 404);
    const res = await c.compute('DELETE', `/servers/${id}/migrations/${m.id}`, { headers: at('2.24') });
    assert.equal(res.status, 202, res.text);
    await migration(id, 'cancelled');
    const s = await c.waitStatus(id, 'ACTIVE');
    assert.equal(s['OS-EXT-SRV-ATTR:host'], host);
    assert.ok(node(other).calls.includes(`RollbackLiveMigration ${id}`));
    assert.equal(node(other).instances.has(id), false);
    const claims = await c.redis.smembers(redisKeys.hostAllocations(other));
    assert.deepEqual(claims, [], 'the destination claim was released');
    assert.equal(await c.redis.get(redisKeys.instanceOwner(id)), host);
    assert.equal(
      (await c.compute('DELETE', `/servers/${id}/migrations/${m.id}`, { headers: at('2.24') })).status,
      400,
      'not in progress any more',
    );
  });

  it('a failing migration leaves the instance ACTIVE on the source, the migration in error', async () => {
    const { id, host } = await server('failing');
    node(host).failMigration = 'the destination stopped answering';
    assert.equal((await c.compute('POST', `/servers/${id}/action`, { body: live21() })).status, 202);
    const m = await migration(id, 'error');
    assert.equal(m.source_compute, host);
    const s = await c.waitStatus(id, 'ACTIVE');
    assert.equal(s['OS-EXT-SRV-ATTR:host'], host);
    assert.equal(await c.redis.get(redisKeys.instanceOwner(id)), host);
    assert.equal(await c.redis.hget(redisKeys.allocation(id), 'host'), host);
    assert.equal(node(m.dest_compute).instances.has(id), false);
    const events = (await c.compute('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions;
    assert.ok(
      events.some((a: any) => a.action === 'live-migration'),
      JSON.stringify(events),
    );
  });

  /** An admin request to a gateway other than the cluster's. */
  const requestTo = (url: string, method: string, path: string, body?: unknown) =>
    fetch(`${url}/compute/v2.1${path}`, {
      method,
      headers: { 'x-auth-token': c.adminToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const until = async (what: string, done: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await done())) {
      if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** The instance's (only) migration record as stored, with what the API does not show (uuid, error). */
  const record = async (id: string): Promise<MigrationRecord> =>
    (await listMigrations(c.redis, { instanceUuid: id }))[0]!;
  const migratingOn = (host: string, id: string) => node(host).instances.get(id)?.task === 'migrating';
  /** The compute_live_migration event of the server's newest live-migration action, once it ended. */
  async function liveMigrationEvent(id: string): Promise<any> {
    let event: any;
    await until('the compute_live_migration event to end', async () => {
      const actions = (await c.compute('GET', `/servers/${id}/os-instance-actions`)).body.instanceActions;
      const requestId = actions.find((a: any) => a.action === 'live-migration').request_id;
      const events = (await c.compute('GET', `/servers/${id}/os-instance-actions/${requestId}`)).body.instanceAction
        .events;
      event = events.find((e: any) => e.event === 'compute_live_migration');
      return event?.finish_time != null;
    });
    return event;
  }
  /** Gateways started to take over from a dead one: as short a lease as the dead one had. */
  const LEASE = { HYPERNOVA_MIGRATION_LEASE_MS: '1000' };

  /**
   * Starts the migration of `id` through a gateway process and kills that process (SIGKILL)
   * once the source node runs the migration: nobody watches it any more.
   */
  async function migrateThenKillGateway(id: string, host: string): Promise<void> {
    const doomed = await startGatewayProcess(c.gatewayEnv(LEASE));
    try {
      const res = await requestTo(doomed.url, 'POST', `/servers/${id}/action`, live21());
      assert.equal(res.status, 202, await res.text());
      await until('the source to run the migration', () => migratingOn(host, id));
    } finally {
      await doomed.process.kill();
    }
  }

  it('a gateway that dies mid-migration: the next gateway re-attaches, watches it to its end and completes it', async () => {
    const { id, host, other } = await server('orphan-committed');
    slowMigrations(5000);
    await migrateThenKillGateway(id, host);
    await migration(id, 'running');
    const { uuid } = await record(id);
    const next = await c.startGateway(LEASE);
    try {
      // The dead gateway's lease lapses within a second; a sweep takes the migration over while
      // the source still runs it (lease holders are host/pid/random).
      await until(
        'the migration to be taken over',
        async () =>
          (await c.redis.get(redisKeys.migrationLease(uuid)))?.startsWith(`${hostname()}/${process.pid}/`) ?? false,
      );
      assert.ok(migratingOn(host, id), 'taken over while the source still migrates');
      const s = await c.waitStatus(id, 'ACTIVE');
      assert.equal(s['OS-EXT-SRV-ATTR:host'], other);
      assert.equal(s['OS-EXT-SRV-ATTR:hypervisor_hostname'], other);
      const m = await migration(id, 'completed');
      assert.equal(m.dest_compute, other);
      assert.equal(await c.redis.hget(redisKeys.allocation(id), 'host'), other);
      assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(other)), [id]);
      assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(host)), []);
      assert.equal(node(host).instances.has(id), false);
      assert.equal(node(other).instances.has(id), true);
      assert.equal(await c.redis.zcard(redisKeys.migrationsInProgress()), 0);
      assert.equal(
        (await liveMigrationEvent(id)).result,
        'Success',
        "the dead gateway's open event ended by the one that took over",
      );
    } finally {
      await next.close();
    }
  });

  it('a gateway that dies mid-migration which then fails: one of two new gateways settles it, the instance stays on the source', async () => {
    const { id, host, other } = await server('orphan-aborted');
    slowMigrations(1500);
    node(host).failMigration = 'the destination stopped answering';
    await migrateThenKillGateway(id, host);
    await until('the source to give up', () => !migratingOn(host, id));
    assert.equal((await migration(id, 'running')).dest_compute, other, 'nobody ended the record');
    // Two replicas start at once: the lease gives the migration to one of them.
    const next = await Promise.all([c.startGateway(LEASE), c.startGateway(LEASE)]);
    try {
      await migration(id, 'error');
      assert.match((await record(id)).error, /gateway driving the migration stopped/);
      const s = await c.waitStatus(id, 'ACTIVE');
      assert.equal(s['OS-EXT-SRV-ATTR:host'], host);
      assert.equal(await c.redis.get(redisKeys.instanceOwner(id)), host);
      assert.equal(await c.redis.hget(redisKeys.allocation(id), 'host'), host);
      assert.deepEqual(
        await c.redis.smembers(redisKeys.hostAllocations(other)),
        [],
        'the destination claim was released',
      );
      assert.equal(node(other).instances.has(id), false);
      assert.equal((await liveMigrationEvent(id)).result, 'Error');
      assert.equal(
        node(other).calls.filter((x) => x === `RollbackLiveMigration ${id}`).length,
        1,
        'rolled back by one gateway only',
      );
    } finally {
      await Promise.all(next.map((g) => g.close()));
    }
  });

  it('deleting a server while it migrates: the delete wins, where the guest runs, and the migration ends', async () => {
    const { id, host, other } = await server('deleted-mover');
    slowMigrations(1000);
    assert.equal((await c.compute('POST', `/servers/${id}/action`, { body: live21() })).status, 202);
    await migration(id, 'running');
    assert.equal((await c.compute('DELETE', `/servers/${id}`)).status, 204);
    await c.waitServer(id, 'gone');
    await migration(id, 'completed');
    assert.equal(node(other).instances.has(id), false, 'the guest was destroyed on the node it had moved to');
    assert.equal(node(host).instances.has(id), false);
    assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(other)), []);
    assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(host)), []);
  });

  it('a delete sent to another gateway while one drives the migration waits for it, and destroys where the guest landed', async () => {
    const { id, host, other } = await server('deleted-elsewhere');
    slowMigrations(1500);
    assert.equal((await c.compute('POST', `/servers/${id}/action`, { body: live21() })).status, 202);
    await migration(id, 'running');
    const second = await c.startGateway();
    try {
      const res = await requestTo(second.url, 'DELETE', `/servers/${id}`);
      assert.equal(res.status, 204, await res.text());
      await c.waitServer(id, 'gone');
      await migration(id, 'completed');
      assert.equal(node(other).instances.has(id), false, 'the guest was destroyed on the node it had moved to');
      assert.equal(node(host).instances.has(id), false);
      assert.ok(node(other).calls.includes(`Destroy ${id}`), 'destroyed on the destination, once the migration ended');
      assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(other)), []);
      assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(host)), []);
      assert.equal(await c.redis.exists(redisKeys.instanceTaskLease(id)), 0, 'every task lease released');
    } finally {
      await second.close();
    }
  });

  it('a server deleted while its gateway is dead mid-migration: the taken-over migration frees what moved with the guest', async () => {
    const { id, host, other } = await server('deleted-orphan');
    slowMigrations(3000);
    await migrateThenKillGateway(id, host);
    // The delete runs on the live gateway: the source destroys once its migration committed.
    assert.equal((await c.compute('DELETE', `/servers/${id}`)).status, 204);
    await c.waitServer(id, 'gone');
    const next = await c.startGateway(LEASE);
    try {
      await migration(id, 'completed');
      assert.equal(node(other).instances.has(id), false, 'the guest that landed after the delete was destroyed');
      assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(other)), []);
      assert.deepEqual(await c.redis.smembers(redisKeys.hostAllocations(host)), []);
    } finally {
      await next.close();
    }
  });

  it("answers bad requests with Nova's 4xx and changes nothing", async () => {
    const { id, host } = await server('checked');
    const post = (body: unknown, headers = at('2.1'), token?: string) =>
      c.compute('POST', `/servers/${id}/action`, { body, headers, ...(token ? { token } : {}) });
    const expect = async (
      res: Promise<{ status: number; body: any; text: string }>,
      status: number,
      message?: RegExp,
    ) => {
      const r = await res;
      assert.equal(r.status, status, r.text);
      if (message) assert.match(Object.values(r.body as object)[0].message, message);
    };
    await expect(post(live21(host)), 400, /Unable to migrate instance \(.*\) to current host \(node-\d\)/);
    await expect(post(live21('nowhere')), 400, /Compute host nowhere could not be found/);
    await expect(post(live21('node-3')), 400, /No valid host was found/);
    await expect(post(live21(null, false)), 400, /node-\d is not on shared storage/);
    await expect(post(live21(null, 'auto')), 400, /block_migration/);
    await expect(
      post(live25(), at('2.25')).then((r) => r),
      202,
    );
    await c.waitStatus(id, 'ACTIVE');
    await expect(
      post({ 'os-migrateLive': { host: null, block_migration: true, disk_over_commit: false } }, at('2.25')),
      400,
      /disk_over_commit/,
    );
    await expect(post({ 'os-migrateLive': { host: null, block_migration: 'sometimes' } }, at('2.25')), 400);
    const member = await c.tenant('not-admin');
    await expect(post(live21(), at('2.1'), member.token), 403);
    // A down host; a stopped instance.
    const now = await hostOf(id);
    const away = now === 'node-1' ? 'node-2' : 'node-1';
    await node(away).stop({ markDown: true });
    try {
      await expect(post(live21(away)), 400, new RegExp(`Compute service of ${away} is unavailable`));
    } finally {
      c.nodes.splice(c.nodes.indexOf(node(away)), 1);
      await c.addNode(away);
    }
    assert.equal((await post({ 'os-stop': null })).status, 202);
    await c.waitStatus(id, 'SHUTOFF');
    await expect(post(live21()), 409, /Cannot 'live_migration' instance .* while it is in vm_state stopped/);
    const records = (await c.compute('GET', `/os-migrations?instance_uuid=${id}`)).body.migrations;
    assert.ok(
      records.every((r: any) => r.status === 'completed' || r.status === 'error'),
      JSON.stringify(records),
    );
  });
});
