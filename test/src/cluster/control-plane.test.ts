// The cluster's control plane end to end, with the stand-in VM process so each case takes
// seconds: real Redis (AOF) and NATS, two scheduler replicas and three compute agents as
// processes, the gateway. Placement (anti-affinity, No valid host), supervision (kill -9),
// agent restarts, heartbeats, a node vanishing mid-spawn, a Redis crash, and the Compute gRPC
// service itself (image cache, overlay disks).
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { redisKeys, subjects } from '@hypernova/common';
import { getHost, listHosts, type InstanceEvent } from '@hypernova/cluster-state';
import { compute } from '@hypernova/proto';
import { Qcow2 } from '@hypernova/hypervisor/block';
import { TestCluster } from './cluster.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

describe('cluster control plane (stand-in VMs, real Redis/NATS/schedulers/agents/gateway)', function () {
  this.timeout(60_000);
  let c: TestCluster;

  before(async function () {
    this.timeout(120_000);
    c = await TestCluster.start({ vm: 'fake', nodes: 3 });
  });

  after(async () => {
    await c?.stop();
  });

  afterEach(async () => {
    const res = await c.request('GET', '/compute/v2.1/servers?all_tenants=1');
    await Promise.all(((res.body?.servers ?? []) as { id: string }[]).map((s) => c.deleteServer(s.id)));
  });

  /** The host a server runs on (admin view). */
  const hostOf = (s: Record<string, unknown>) => s['OS-EXT-SRV-ATTR:host'] as string;

  it('registers every node with its capacity and traits, alive', async () => {
    const hosts = await listHosts(c.redis);
    assert.deepEqual(
      hosts.map((h) => h.name),
      ['node-1', 'node-2', 'node-3'],
    );
    for (const h of hosts) {
      assert.equal(h.up, true);
      assert.equal(h.enabled, true);
      assert.equal(h.hypervisorType, 'hypernova');
      assert.match(h.hypervisorVersion, /^\d+\.\d+\.\d+$/);
      assert.equal(h.architecture, 'riscv32');
      assert.equal(h.availabilityZone, 'nova');
      assert.equal(h.vcpus, 4);
      assert.equal(h.ramMb, 1024);
      assert.equal(h.address, c.agent(h.name).address);
    }
  });

  it('Compute gRPC: spawns from the object store through the image cache onto a qcow2 overlay, and destroys', async () => {
    const node = c.agent('node-1');
    const image = compute.Image.fromPartial({
      id: c.image.id,
      location: c.image.location,
      checksum: c.image.checksum,
      diskFormat: c.image.diskFormat,
      architecture: 'riscv32',
      properties: c.image.properties,
    });
    const flavor = { id: '1', name: 'm1.tiny', vcpus: 1, ramMb: 64, diskGb: 1, extraSpecs: {} };
    const uuids = ['aaaaaaaa-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002'];
    const infos = await Promise.all(
      uuids.map((instanceUuid) =>
        c.rpc(node, 'spawn', compute.SpawnRequest.fromPartial({ instanceUuid, name: 'direct', flavor, image })),
      ),
    );
    for (const info of infos) {
      assert.equal(info.powerState, compute.PowerState.POWER_STATE_RUNNING);
      assert.equal(info.host, 'node-1');
      assert.ok(info.pid > 0);
    }
    const cached = join(node.stateDir, 'images', c.image.id);
    assert.equal(statSync(cached).size, c.image.size, 'pulled once into the cache, checksum verified');
    const disk = Qcow2.open(join(node.stateDir, 'instances', uuids[0], 'disk.qcow2'), {
      readOnly: true,
      ignoreBacking: true,
    });
    assert.equal(disk.backingPath, cached, 'the instance disk is an overlay over the cached base image');
    assert.equal(disk.sizeBytes, 2 ** 30, 'sized to the flavor');
    disk.close();
    const listed = await c.rpc(node, 'listInstances', {});
    assert.deepEqual(listed.instances.map((i: compute.InstanceInfo) => i.instanceUuid).sort(), uuids);
    await sleep(300);
    const out = await c.rpc(node, 'getConsoleOutput', { instanceUuid: uuids[0], lines: 100 });
    assert.match(out.output, /BOOT-OK/);
    assert.match(out.output, new RegExp(`kernel=${cached}`), 'boots the cached kernel');
    for (const instanceUuid of uuids)
      assert.deepEqual(await c.rpc(node, 'destroy', { instanceUuid, keepDisks: false }), { existed: true });
    assert.deepEqual(await c.rpc(node, 'destroy', { instanceUuid: uuids[0], keepDisks: false }), { existed: false });
    assert.equal(existsSync(join(node.stateDir, 'instances', uuids[0])), false);
    await assert.rejects(c.rpc(node, 'getInstanceInfo', { instanceUuid: uuids[0] }), /could not be found/);
    // A damaged download (wrong checksum) fails the spawn and leaves nothing behind.
    const bad = { ...image, id: 'bad-image', checksum: '0'.repeat(32) };
    await assert.rejects(
      c.rpc(
        node,
        'spawn',
        compute.SpawnRequest.fromPartial({ instanceUuid: uuids[0], name: 'bad', flavor, image: bad }),
      ),
      /checksum/,
    );
    assert.equal(existsSync(join(node.stateDir, 'instances', uuids[0])), false);
    assert.equal(existsSync(join(node.stateDir, 'images', 'bad-image')), false);
  });

  it('runs the life cycle through the API: pause, suspend, stop, start, reboot, delete', async () => {
    const id = await c.createServer('life');
    const s = await c.waitStatus(id, 'ACTIVE');
    const node = c.agent(hostOf(s));
    assert.match(await c.consoleOutput(id), /BOOT-OK/);
    const steps: [object, string][] = [
      [{ pause: null }, 'PAUSED'],
      [{ unpause: null }, 'ACTIVE'],
      [{ suspend: null }, 'SUSPENDED'],
      [{ resume: null }, 'ACTIVE'],
      [{ 'os-stop': null }, 'SHUTOFF'],
      [{ 'os-start': null }, 'ACTIVE'],
      [{ reboot: { type: 'HARD' } }, 'ACTIVE'],
    ];
    for (const [body, status] of steps) {
      assert.equal((await c.action(id, body)).status, 202, JSON.stringify(body));
      await c.waitStatus(id, status);
      if (status === 'SUSPENDED' || status === 'SHUTOFF')
        assert.equal(node.vmPids().has(id), false, `${status}: no VM process`);
    }
    assert.match(node.consoleLog(id), /restored at heartbeat \d+/, 'resume restored the saved state');
    await c.deleteServer(id);
    assert.equal(existsSync(join(node.stateDir, 'instances', id)), false);
    assert.equal(await c.redis.exists(redisKeys.allocation(id)), 0, 'claim released');
  });

  it('anti-affinity spreads a server group over distinct hosts; one more finds no valid host', async () => {
    const g = await c.request('POST', '/compute/v2.1/os-server-groups', {
      server_group: { name: 'spread', policies: ['anti-affinity'] },
    });
    assert.equal(g.status, 200);
    const hints = { group: g.body.server_group.id };
    const ids = await Promise.all([1, 2, 3].map((i) => c.createServer(`aa-${i}`, { hints })));
    const hosts = (await Promise.all(ids.map((id) => c.waitStatus(id, 'ACTIVE')))).map(hostOf);
    assert.equal(new Set(hosts).size, 3, `distinct hosts: ${hosts}`);
    const fourth = await c.createServer('aa-4', { hints });
    const s = await c.waitStatus(fourth, 'ERROR');
    assert.match(s.fault.message, /No valid host was found/);
  });

  it('a full cluster answers No valid host instead of over-committing', async () => {
    // m1.large: 2 vCPUs, 512 MB; each node has 4 vCPUs and 1024 MB, so 6 fit.
    const ids = await Promise.all(Array.from({ length: 7 }, (_, i) => c.createServer(`big-${i}`, { flavorRef: '4' })));
    const final = await Promise.all(
      ids.map((id) => c.waitServer(id, (s) => ['ACTIVE', 'ERROR'].includes(s.status) && !s['OS-EXT-STS:task_state'])),
    );
    assert.equal(final.filter((s) => s.status === 'ACTIVE').length, 6);
    const failed = final.filter((s) => s.status === 'ERROR');
    assert.equal(failed.length, 1);
    assert.match(failed[0].fault.message, /No valid host was found/);
    for (const h of await listHosts(c.redis)) {
      assert.ok(
        h.used.vcpus <= h.vcpus && h.used.ramMb <= h.ramMb,
        `${h.name} over capacity: ${JSON.stringify(h.used)}`,
      );
    }
  });

  it('a VM process killed with kill -9 shows in the API (ERROR with a fault) and on NATS within seconds', async () => {
    const id = await c.createServer('victim');
    const s = await c.waitStatus(id, 'ACTIVE');
    const events: InstanceEvent[] = [];
    const sub = c.nc.subscribe(subjects.instanceEvents(id), {
      callback: (_err, msg) => events.push(JSON.parse(new TextDecoder().decode(msg.data)) as InstanceEvent),
    });
    const pid = c.agent(hostOf(s)).vmPids().get(id) as number;
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const after = await c.waitStatus(id, 'ERROR', 5000);
    const took = Date.now() - killedAt;
    assert.ok(took < 3000, `seen after ${took} ms`);
    assert.match(after.fault.message, /VM process exited unexpectedly \(killed by SIGKILL\)/);
    await sleep(100);
    sub.unsubscribe();
    assert.ok(
      events.some((e) => e.vmState === 'error'),
      'state change published on NATS',
    );
    // From ERROR, a hard reboot brings it back (a new VM process).
    assert.equal((await c.action(id, { reboot: { type: 'HARD' } })).status, 202);
    await c.waitStatus(id, 'ACTIVE');
    assert.notEqual(c.agent(hostOf(s)).vmPids().get(id), pid);
  });

  it('restarting a compute agent keeps its VMs running and re-adopts them', async () => {
    const node = c.agent('node-2');
    // RAM spreading puts two of six on each node.
    const ids = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => c.createServer(`keep-${i}`)));
    await Promise.all(ids.map((id) => c.waitStatus(id, 'ACTIVE')));
    const before = node.vmPids();
    assert.ok(before.size >= 2, `node-2 runs ${before.size} VMs`);
    const [keep, dies] = [...before.keys()];
    await node.stop();
    for (const pid of before.values()) assert.ok(alive(pid), 'VMs outlive their agent');
    process.kill(before.get(dies) as number, 'SIGKILL'); // dies while nobody watches
    await sleep(300);
    const beats = (node.consoleLog(keep).match(/heartbeat/g) ?? []).length;
    await node.start();
    const info = await c.rpc(node, 'getInstanceInfo', { instanceUuid: keep });
    assert.equal(info.powerState, compute.PowerState.POWER_STATE_RUNNING);
    assert.equal(info.pid, before.get(keep), 'the same VM process, adopted');
    const dead = await c.waitStatus(dies, 'ERROR', 5000);
    assert.match(dead.fault.message, /VM process exited unexpectedly/);
    await sleep(500);
    assert.ok((node.consoleLog(keep).match(/heartbeat/g) ?? []).length > beats, 'the guest kept running');
    // Supervision works on adopted VMs too.
    process.kill(before.get(keep) as number, 'SIGKILL');
    await c.waitStatus(keep, 'ERROR', 5000);
    // And the adopted agent still serves life-cycle calls.
    assert.equal((await c.action(keep, { 'os-stop': null })).status, 202);
    await c.waitStatus(keep, 'SHUTOFF');
  });

  it('a node whose heartbeat stops is marked down and the scheduler avoids it', async () => {
    const node = c.agent('node-3');
    process.kill(node.proc.pid, 'SIGSTOP'); // frozen: no heartbeat, nothing else changes
    try {
      const deadline = Date.now() + 5000;
      while ((await getHost(c.redis, 'node-3'))?.up) {
        assert.ok(Date.now() < deadline, 'node-3 still up');
        await sleep(100);
      }
      const hv = await c.request('GET', '/compute/v2.1/os-hypervisors/detail');
      const h3 = hv.body.hypervisors.find((h: { hypervisor_hostname: string }) => h.hypervisor_hostname === 'node-3');
      assert.equal(h3.state, 'down');
      await sleep(400); // the schedulers' host refresh
      const ids = await Promise.all([1, 2, 3, 4].map((i) => c.createServer(`avoid-${i}`)));
      const hosts = (await Promise.all(ids.map((id) => c.waitStatus(id, 'ACTIVE')))).map(hostOf);
      assert.ok(!hosts.includes('node-3'), `placed on ${hosts}`);
    } finally {
      process.kill(node.proc.pid, 'SIGCONT');
    }
    const deadline = Date.now() + 5000;
    while (!(await getHost(c.redis, 'node-3'))?.up) {
      assert.ok(Date.now() < deadline, 'node-3 back up');
      await sleep(100);
    }
  });

  it('a compute node that vanishes mid-spawn leaves the instance in ERROR with its claim released', async () => {
    // A fourth node alone in its zone, whose spawns are slow enough to kill it during one.
    const slow = await c.addAgent('node-4', {
      env: { COMPUTE_AVAILABILITY_ZONE: 'slow', COMPUTE_SPAWN_DELAY_MS: '3000' },
    });
    await sleep(500);
    const id = await c.createServer('orphan', { extra: { availability_zone: 'slow' } });
    await c.waitServer(id, (s) => s['OS-EXT-STS:task_state'] === 'spawning' && hostOf(s) === 'node-4');
    await slow.proc.kill();
    const s = await c.waitStatus(id, 'ERROR', 15_000);
    assert.ok(s.fault.message, 'with a fault');
    assert.equal(await c.redis.exists(redisKeys.allocation(id)), 0, 'claim released');
    const h = await getHost(c.redis, 'node-4');
    assert.deepEqual(h?.used, { vcpus: 0, ramMb: 0, diskGb: 0 });
    // When it comes back, the half-spawned instance is not its own any more: nothing is left running.
    await slow.start();
    assert.deepEqual((await c.rpc(slow, 'listInstances', {})).instances, []);
  });

  it('a Redis crash and restart loses no instance record (AOF)', async () => {
    const ids = await Promise.all([1, 2, 3].map((i) => c.createServer(`durable-${i}`)));
    await Promise.all(ids.map((id) => c.waitStatus(id, 'ACTIVE')));
    await c.infra.redis.restart({ crash: true });
    for (const id of ids) {
      const s = await c.waitStatus(id, 'ACTIVE', 10_000);
      assert.equal(s.id, id);
    }
    // The agents reconnect and keep heartbeating.
    await sleep(1500);
    for (const h of await listHosts(c.redis)) if (h.name !== 'node-4') assert.equal(h.up, true, h.name);
  });
});
