// Scheduler replicas (separate processes) against a real redis-server: no over-commit under a
// race, "No valid host" when full, server-group policies, dead hosts avoided, exact release.
import assert from 'node:assert/strict';
import {
  ConflictError,
  NoValidHostError,
  NotFoundError,
  callUnary,
  createRedis,
  grpcClientCredentials,
  redisKeys,
  type Redis,
} from '@hypernova/common';
import { heartbeatHost, registerHost, type HostSpec } from '@hypernova/cluster-state';
import { health, scheduler as pb } from '@hypernova/proto';
import { auditPlacement } from '@hypernova/scheduler';
import { startRedis, startSchedulerReplica, type InfraServer, type SchedulerReplica } from './harness/index.js';

function simHost(name: string, over: Partial<HostSpec> = {}): HostSpec {
  return {
    name,
    address: `127.0.0.1:${40000 + Math.floor(Math.random() * 1000)}`,
    vcpus: 4,
    ramMb: 4096,
    diskGb: 40,
    cpuAllocationRatio: 2,
    ramAllocationRatio: 1.5,
    diskAllocationRatio: 1,
    hypervisorType: 'hypernova',
    hypervisorVersion: '0.1.0',
    architecture: 'riscv32',
    availabilityZone: 'nova',
    enabled: true,
    ...over,
  };
}

const SMALL = { name: 'small', vcpus: 1, ramMb: 512, diskGb: 2 };
const MEDIUM = { name: 'medium', vcpus: 2, ramMb: 1024, diskGb: 5 };

function spec(uuid: string, over: Partial<pb.RequestSpec> = {}): pb.RequestSpec {
  return pb.RequestSpec.fromPartial({ instanceUuid: uuid, projectId: 'demo', flavor: SMALL, ...over });
}

describe('scheduler replicas against real Redis', function () {
  this.timeout(120_000);
  let server: InfraServer;
  let redis: Redis;
  let replicas: SchedulerReplica[];
  let clients: pb.SchedulerClient[];

  const select = (i: number, s: pb.RequestSpec) =>
    callUnary(clients[i % clients.length].selectDestinations.bind(clients[i % clients.length]), {
      spec: s,
      consumerUuid: '',
    });
  const release = (i: number, consumerUuid: string) =>
    callUnary(clients[i % clients.length].releaseAllocation.bind(clients[i % clients.length]), { consumerUuid });

  before(async () => {
    // AOF on, as deployed, so a restart in the middle keeps what was claimed.
    server = await startRedis({ aof: true });
    redis = createRedis(server.url);
    // Refresh often so tests that change hosts do not wait; staleness is still exercised.
    const env = { SCHEDULER_HOST_REFRESH_MS: '200', SCHEDULER_NUM_ALTERNATES: '2' };
    replicas = await Promise.all(
      [0, 1].map((i) => startSchedulerReplica({ redisUrl: server.url, env, name: `scheduler-${i}` })),
    );
    clients = replicas.map((r) => new pb.SchedulerClient(r.address, grpcClientCredentials('scheduler')));
  });

  after(async () => {
    clients?.forEach((c) => c.close());
    await Promise.all((replicas ?? []).map((r) => r.stop()));
    redis?.disconnect();
    await server?.stop();
  });

  beforeEach(async () => {
    await redis.flushall();
  });

  it('serve grpc.health.v1 as SERVING', async () => {
    for (const r of replicas) {
      const hc = new health.HealthClient(r.address, grpcClientCredentials());
      for (const service of ['', 'hypernova.scheduler.v1.Scheduler']) {
        const res = await callUnary(hc.check.bind(hc), { service });
        assert.equal(res.status, health.HealthCheckResponse_ServingStatus.SERVING);
      }
      await assert.rejects(callUnary(hc.check.bind(hc), { service: 'nope' }), NotFoundError);
      hc.close();
    }
  });

  it('two replicas racing 200 requests on 20 hosts never over-commit, and full hosts give No valid host', async () => {
    for (let i = 0; i < 20; i++) await registerHost(redis, simHost(`race-${i}`));
    // Each host takes floor(4*2)=8 vCPUs, floor(4096*1.5)=6144 MB, 40 GB: fewer than 200 requests fit.
    const flavors = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? MEDIUM : SMALL));
    const results = await Promise.allSettled(flavors.map((flavor, i) => select(i, spec(`race-inst-${i}`, { flavor }))));

    const placed = results.filter((r) => r.status === 'fulfilled');
    const failed = results.flatMap((r, i) =>
      r.status === 'rejected' ? [{ err: r.reason as unknown, flavor: flavors[i] }] : [],
    );
    assert.ok(placed.length > 100, `only ${placed.length} placed`);
    assert.ok(failed.length > 0, 'the cluster should have filled up');
    for (const f of failed) {
      assert.ok(f.err instanceof NoValidHostError, `unexpected ${String(f.err)}`);
      assert.match(f.err.message, /^No valid host was found\./);
    }

    const audit = await auditPlacement(redis);
    assert.deepEqual(audit.overCommitted, [], 'over-committed hosts');
    assert.deepEqual(audit.counterMismatches, [], 'usage counters disagree with allocations');
    assert.equal(audit.allocations, placed.length);
    // Usage only grew during the run, so a request refused then still fits nowhere now.
    for (const { flavor } of failed) {
      const fits = audit.hosts.filter(
        (h) =>
          h.allocated.vcpus + flavor.vcpus <= h.capacity.vcpus &&
          h.allocated.ramMb + flavor.ramMb <= h.capacity.ramMb &&
          h.allocated.diskGb + flavor.diskGb <= h.capacity.diskGb,
      );
      assert.deepEqual(
        fits.map((h) => h.host),
        [],
        `a ${flavor.name} was refused though it fits`,
      );
    }
    for (const r of placed) {
      const [chosen, ...alternates] = r.value.selections;
      assert.ok(chosen?.allocationId, 'the chosen host carries its allocation id');
      assert.ok(alternates.every((a) => a.allocationId === '' && a.host !== chosen.host));
      assert.equal(new Set(alternates.map((a) => a.host)).size, alternates.length);
    }
  });

  it('a replayed request returns its existing allocation instead of claiming twice', async () => {
    await registerHost(redis, simHost('replay-0'));
    await registerHost(redis, simHost('replay-1'));
    const a = await select(0, spec('replay-inst'));
    const b = await select(1, spec('replay-inst'));
    assert.equal(b.selections[0]?.host, a.selections[0]?.host);
    assert.equal(b.selections[0]?.allocationId, a.selections[0]?.allocationId);
    assert.equal((await auditPlacement(redis)).allocations, 1);
  });

  it("a replayed request names the host its allocation is on, though that host is newer than the replica's view", async () => {
    await registerHost(redis, simHost('seen-0'));
    await new Promise((r) => setTimeout(r, 500)); // both replicas have refreshed since
    await registerHost(redis, simHost('new-0'));
    const claimed = await callUnary(clients[0].claimOnHost.bind(clients[0]), {
      spec: spec('replay-new'),
      host: 'new-0',
      consumerUuid: '',
    });
    // Replica 1 last read the hosts before new-0 existed: it tries seen-0 and finds the allocation.
    const replay = await select(1, spec('replay-new'));
    assert.equal(replay.selections[0]?.host, 'new-0');
    assert.equal(replay.selections[0]?.allocationId, claimed.allocationId);
    assert.equal((await auditPlacement(redis)).allocations, 1);
  });

  it('anti-affinity spreads a group over distinct hosts, and refuses once every host has a member', async () => {
    for (let i = 0; i < 6; i++) await registerHost(redis, simHost(`aa-${i}`));
    const group = { uuid: 'group-aa', policy: pb.GroupPolicy.GROUP_POLICY_ANTI_AFFINITY };
    const res = await Promise.all(
      Array.from({ length: 6 }, (_, i) => select(i, spec(`aa-inst-${i}`, { serverGroup: group }))),
    );
    const hosts = res.map((r) => r.selections[0]?.host);
    assert.equal(new Set(hosts).size, 6, `members share hosts: ${hosts.join(', ')}`);
    await assert.rejects(select(0, spec('aa-inst-6', { serverGroup: group })), NoValidHostError);
    // Another group is not constrained by this one.
    await select(1, spec('aa-other', { serverGroup: { ...group, uuid: 'group-other' } }));
  });

  it('affinity keeps a group on one host', async () => {
    for (let i = 0; i < 5; i++) await registerHost(redis, simHost(`af-${i}`, { vcpus: 16, ramMb: 16384 }));
    const group = { uuid: 'group-af', policy: pb.GroupPolicy.GROUP_POLICY_AFFINITY };
    await select(0, spec('af-inst-0', { serverGroup: group }));
    const res = await Promise.all(
      Array.from({ length: 5 }, (_, i) => select(i, spec(`af-inst-${i + 1}`, { serverGroup: group }))),
    );
    assert.equal(new Set(res.map((r) => r.selections[0]?.host)).size, 1);
  });

  it('filters on image architecture and availability zone', async () => {
    await registerHost(redis, simHost('arch-a', { architecture: 'riscv32', availabilityZone: 'az1' }));
    await registerHost(redis, simHost('arch-b', { architecture: 'x86_64', availabilityZone: 'az2' }));
    const image = { id: 'img', architecture: 'x86_64', hypervisorType: '', properties: {} };
    assert.equal((await select(0, spec('arch-1', { image }))).selections[0]?.host, 'arch-b');
    assert.equal((await select(1, spec('arch-2', { availabilityZone: 'az1' }))).selections[0]?.host, 'arch-a');
    await assert.rejects(select(0, spec('arch-3', { image, availabilityZone: 'az1' })), NoValidHostError);
  });

  it('a host whose heartbeat expired is avoided; a disabled host too', async () => {
    await registerHost(redis, simHost('hb-alive', { vcpus: 16, ramMb: 16384 }), 2);
    await registerHost(redis, simHost('hb-dead', { vcpus: 64, ramMb: 65536 }), 2); // would win on free RAM
    await registerHost(redis, simHost('hb-disabled', { vcpus: 64, ramMb: 65536, enabled: false }), 2);
    const beat = setInterval(() => void heartbeatHost(redis, 'hb-alive', 2), 300);
    try {
      // While both are up the bigger host is preferred.
      assert.equal((await select(0, spec('hb-0'))).selections[0]?.host, 'hb-dead');
      await new Promise((r) => setTimeout(r, 2500)); // hb-dead's key expires
      assert.equal(await redis.exists(redisKeys.hostAlive('hb-dead')), 0);
      for (let i = 1; i <= 10; i++) {
        const r = await select(i, spec(`hb-${i}`));
        assert.equal(r.selections[0]?.host, 'hb-alive');
        assert.ok(
          r.selections.every((s) => s.host === 'hb-alive'),
          'a down host offered as alternate',
        );
      }
    } finally {
      clearInterval(beat);
    }
  });

  it('release is exact and happens once, even when both replicas release concurrently', async () => {
    for (let i = 0; i < 6; i++) await registerHost(redis, simHost(`rel-${i}`));
    const group = { uuid: 'group-rel', policy: pb.GroupPolicy.GROUP_POLICY_ANTI_AFFINITY };
    const ids = Array.from({ length: 20 }, (_, i) => `rel-inst-${i}`);
    await Promise.all(
      ids.map((id, i) =>
        select(i, spec(id, { flavor: i % 2 ? MEDIUM : SMALL, serverGroup: i < 4 ? group : undefined })),
      ),
    );
    assert.equal((await auditPlacement(redis)).allocations, 20);

    // Every consumer released twice at once, once through each replica: exactly one wins.
    const outcomes = await Promise.all(ids.flatMap((id) => [release(0, id), release(1, id)]));
    assert.equal(outcomes.filter((o) => o.released).length, 20);
    const audit = await auditPlacement(redis);
    assert.equal(audit.allocations, 0);
    for (const h of audit.hosts) assert.deepEqual(h.counters, { vcpus: 0, ramMb: 0, diskGb: 0 }, h.host);
    assert.equal(await redis.exists(redisKeys.groupMembers('group-rel')), 0);
    assert.deepEqual(await release(0, 'never-existed'), { released: false, host: '' });
  });

  it('ClaimOnHost claims on a named host, and refuses a full, unknown or conflicting one', async () => {
    await registerHost(redis, simHost('named-0', { vcpus: 1, cpuAllocationRatio: 1 }));
    await registerHost(redis, simHost('named-1'));
    const claim = (host: string, uuid: string, consumerUuid = '') =>
      callUnary(clients[0].claimOnHost.bind(clients[0]), { spec: spec(uuid), host, consumerUuid });
    const sel = await claim('named-0', 'named-inst-0');
    assert.equal(sel.host, 'named-0');
    assert.ok(sel.allocationId);
    await assert.rejects(claim('named-0', 'named-inst-1'), NoValidHostError);
    await assert.rejects(claim('ghost', 'named-inst-1'), NotFoundError);
    await assert.rejects(claim('named-1', 'named-inst-0'), ConflictError);
    // A migration claims the destination under its own consumer while the instance keeps the source.
    const dest = await claim('named-1', 'named-inst-0', 'migration-1');
    assert.equal(dest.host, 'named-1');
    assert.equal((await auditPlacement(redis)).allocations, 2);
  });

  it('keeps scheduling across a Redis crash and restart, with every allocation kept', async () => {
    for (let i = 0; i < 3; i++) await registerHost(redis, simHost(`rs-${i}`), 3600);
    await Promise.all([0, 1, 2, 3].map((i) => select(i, spec(`rs-inst-${i}`))));
    await server.restart({ crash: true });
    // Both replicas reconnect, reload their Lua script and keep the same view of usage.
    await Promise.all([4, 5, 6, 7].map((i) => select(i, spec(`rs-inst-${i}`))));
    const audit = await auditPlacement(redis);
    assert.equal(audit.allocations, 8);
    assert.deepEqual(audit.counterMismatches, []);
  });
});
