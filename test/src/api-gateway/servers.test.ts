// Nova v2.1 servers end to end through the real scheduler and fake compute nodes over gRPC:
// build to ACTIVE, rescheduling on a failed spawn, No valid host, delete releasing the claim,
// actions and their state conflicts, project isolation and admin-only APIs.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { connectNats, redisKeys, subjects } from '@hypernova/common';
import { auditPlacement } from '@hypernova/scheduler';
import { Cluster } from './cluster.js';

describe('api-gateway: servers through scheduler and compute gRPC', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start({ nodes: [{ ramMb: 512 }, { ramMb: 512 }] });
  });
  after(async () => {
    await c?.stop();
  });
  afterEach(async () => {
    for (const n of c.nodes) {
      n.failSpawn = undefined;
      n.spawnDelayMs = 0;
    }
  });

  async function deleteAll(): Promise<void> {
    const list = await c.compute('GET', '/servers?all_tenants=1');
    for (const s of list.body.servers) await c.compute('DELETE', `/servers/${s.id}`);
    for (const s of list.body.servers) await c.waitServer(s.id, 'gone');
  }

  it("creates a server that goes BUILD -> ACTIVE on a node, with Nova's body", async () => {
    const res = await c.compute('POST', '/servers', {
      body: {
        server: { name: 'vm1', imageRef: c.image.id, flavorRef: '1', networks: 'none', metadata: { role: 'test' } },
      },
    });
    assert.equal(res.status, 202);
    const id = res.body.server.id;
    assert.equal(res.headers.get('location'), `${c.gateway.url}/compute/v2.1/servers/${id}`);
    assert.ok(res.body.server.adminPass);
    assert.equal(res.body.server.links[0].rel, 'self');
    const s = await c.waitStatus(id, 'ACTIVE');
    assert.equal(s['OS-EXT-STS:vm_state'], 'active');
    assert.equal(s['OS-EXT-STS:power_state'], 1);
    assert.ok(['node-1', 'node-2'].includes(s['OS-EXT-SRV-ATTR:host']));
    assert.equal(s['OS-EXT-SRV-ATTR:hypervisor_hostname'], s['OS-EXT-SRV-ATTR:host']);
    assert.match(s['OS-EXT-SRV-ATTR:instance_name'], /^instance-[0-9a-f]{8}$/);
    assert.deepEqual(s.flavor.id, '1');
    assert.equal(s.image.id, c.image.id);
    assert.deepEqual(s.metadata, { role: 'test' });
    assert.deepEqual(s.addresses, {});
    assert.equal(s.progress, 100);
    assert.match(s.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(s['OS-SRV-USG:launched_at'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    assert.ok(s.hostId.length > 0);
    const node = c.nodes.find((n) => n.name === s['OS-EXT-SRV-ATTR:host']);
    assert.ok(node?.instances.has(id));
    assert.equal(await c.redis.get(redisKeys.instanceOwner(id)), node?.name);
    const alloc = await c.redis.hgetall(redisKeys.allocation(id));
    assert.equal(alloc.host, node?.name);
    await deleteAll();
  });

  it('publishes instance state changes on NATS', async () => {
    const nc = await connectNats(c.infra.nats.url);
    const seen: string[] = [];
    const sub = nc.subscribe(subjects.allInstanceEvents);
    void (async () => {
      for await (const m of sub) seen.push(JSON.parse(m.string()).vmState + '/' + JSON.parse(m.string()).taskState);
    })();
    await nc.flush();
    const id = await c.createServer('evented');
    await c.waitStatus(id, 'ACTIVE');
    await c.compute('DELETE', `/servers/${id}`);
    await c.waitServer(id, 'gone');
    await new Promise((r) => setTimeout(r, 100));
    await nc.close();
    assert.deepEqual(seen, [
      'building/scheduling',
      'building/spawning',
      'active/null',
      'active/deleting',
      'deleted/null',
    ]);
  });

  it('retries the spawn on an alternate host when the first one fails, releasing the first claim', async () => {
    // A ballast server makes its node the less free one, so the scheduler's first choice for the
    // next server is the other node, whose spawns fail: the build must move to the ballast's node.
    const ballast = await c.createServer('ballast', { flavorRef: '2' });
    const full = (await c.waitStatus(ballast, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'];
    const failing = c.nodes.find((n) => n.name !== full);
    assert.ok(failing);
    failing.failSpawn = 'disk image corrupt';
    const id = await c.createServer('retried');
    const s = await c.waitStatus(id, 'ACTIVE');
    assert.equal(s['OS-EXT-SRV-ATTR:host'], full);
    assert.ok(failing.calls.includes(`Spawn ${id}`), 'the first choice was tried');
    assert.ok(failing.calls.includes(`Destroy ${id}`), 'and cleaned up');
    const audit = await auditPlacement(c.redis);
    assert.deepEqual(audit.overCommitted, []);
    assert.deepEqual(audit.counterMismatches, []);
    assert.equal(audit.hosts.find((h) => h.host === failing.name)?.allocations, 0);
    await deleteAll();
  });

  it('puts the server in ERROR with a fault when every spawn fails, and releases all claims', async () => {
    for (const n of c.nodes) n.failSpawn = 'hypervisor broken';
    const id = await c.createServer('doomed');
    const s = await c.waitStatus(id, 'ERROR');
    assert.equal(s.fault.code, 500);
    assert.match(s.fault.message, /^Exceeded maximum number of retries\. Exhausted all hosts available/);
    assert.match(s.fault.details, /hypervisor broken/);
    assert.equal(s['OS-EXT-SRV-ATTR:host'], null);
    assert.equal((await auditPlacement(c.redis)).allocations, 0);
    await deleteAll();
  });

  it("answers No valid host (ERROR with Nova's fault) when nothing fits", async () => {
    // m1.large (512 MiB) fills a 512 MiB node: two fit, the third finds no host.
    const id = await c.createServer('huge', { flavorRef: '4' });
    await c.waitStatus(id, 'ACTIVE');
    const id2 = await c.createServer('huge2', { flavorRef: '4' });
    await c.waitStatus(id2, 'ACTIVE');
    const id3 = await c.createServer('huge3', { flavorRef: '4' });
    const s = await c.waitStatus(id3, 'ERROR');
    assert.equal(s.fault.code, 500);
    assert.equal(s.fault.message, 'No valid host was found. There are not enough hosts available.');
    assert.equal(s.status, 'ERROR');
    assert.equal(await c.redis.exists(redisKeys.allocation(id3)), 0);
    await deleteAll();
  });

  it('deletes a server: Destroy on its node, claim released, then 404', async () => {
    const id = await c.createServer('short-lived');
    const s = await c.waitStatus(id, 'ACTIVE');
    const node = c.nodes.find((n) => n.name === s['OS-EXT-SRV-ATTR:host']);
    const del = await c.compute('DELETE', `/servers/${id}`);
    assert.equal(del.status, 204);
    await c.waitServer(id, 'gone');
    assert.ok(node?.calls.includes(`Destroy ${id}`));
    assert.equal(node?.instances.has(id), false);
    assert.equal(await c.redis.exists(redisKeys.allocation(id)), 0);
    assert.equal(await c.redis.sismember(redisKeys.instances(), id), 0);
    assert.equal((await auditPlacement(c.redis)).allocations, 0);
  });

  it("runs actions through the node and enforces Nova's state rules", async () => {
    const id = await c.createServer('acting');
    await c.waitStatus(id, 'ACTIVE');
    const act = (body: unknown) => c.compute('POST', `/servers/${id}/action`, { body });

    const start = await act({ 'os-start': null });
    assert.equal(start.status, 409);
    assert.deepEqual(start.body, {
      conflictingRequest: { code: 409, message: `Cannot 'start' instance ${id} while it is in vm_state active` },
    });

    assert.equal((await act({ 'os-stop': null })).status, 202);
    let s = await c.waitStatus(id, 'SHUTOFF');
    assert.equal(s['OS-EXT-STS:power_state'], 4);
    assert.equal((await act({ 'os-stop': {} })).status, 409);
    assert.equal((await act({ 'os-start': {} })).status, 202);
    await c.waitStatus(id, 'ACTIVE');

    assert.equal((await act({ pause: null })).status, 202);
    s = await c.waitStatus(id, 'PAUSED');
    assert.equal(s['OS-EXT-STS:power_state'], 3);
    const suspendPaused = await act({ suspend: null });
    assert.equal(
      suspendPaused.body.conflictingRequest.message,
      `Cannot 'suspend' instance ${id} while it is in vm_state paused`,
    );
    assert.equal((await act({ unpause: {} })).status, 202);
    await c.waitStatus(id, 'ACTIVE');

    assert.equal((await act({ suspend: {} })).status, 202);
    s = await c.waitStatus(id, 'SUSPENDED');
    assert.equal(s['OS-EXT-STS:power_state'], 7);
    assert.equal((await act({ reboot: { type: 'SOFT' } })).status, 409);
    assert.equal((await act({ resume: null })).status, 202);
    await c.waitStatus(id, 'ACTIVE');

    assert.equal((await act({ reboot: { type: 'HARD' } })).status, 202);
    await c.waitStatus(id, 'ACTIVE');
    assert.equal((await act({ reboot: { type: 'sideways' } })).status, 400);
    assert.equal((await act({ reboot: null })).status, 400);

    const out = await act({ 'os-getConsoleOutput': { length: 2 } });
    assert.equal(out.status, 200);
    assert.equal(out.body.output, 'init: started\nBOOT-OK');
    const all = await act({ 'os-getConsoleOutput': {} });
    assert.match(all.body.output, /BOOT-OK$/);
    assert.equal((await act({ 'os-getConsoleOutput': { length: '1' } })).body.output, 'BOOT-OK');
    assert.equal((await act({ 'os-getConsoleOutput': { length: -2 } })).status, 400);

    const unknown = await act({ 'os-fly': null });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.badRequest.message, 'There is no such action: os-fly');

    const node = c.nodes.find((n) => n.instances.has(id));
    const calls = node?.calls.filter((x) => x.endsWith(id)).map((x) => x.split(' ')[0]);
    assert.deepEqual(calls, [
      'Spawn',
      'Stop',
      'Start',
      'Pause',
      'Unpause',
      'Suspend',
      'Resume',
      'Reboot',
      'GetConsoleOutput',
      'GetConsoleOutput',
      'GetConsoleOutput',
    ]);
    await deleteAll();
  });

  it('isolates projects: members see only their servers; admins see all with all_tenants', async () => {
    const a = await c.tenant('alpha');
    const b = await c.tenant('beta');
    const ida = await c.createServer('a-vm', { token: a.token });
    const idb = await c.createServer('b-vm', { token: b.token });
    const sa = await c.waitStatus(ida, 'ACTIVE', a.token);
    await c.waitStatus(idb, 'ACTIVE', b.token);
    assert.equal(sa.tenant_id, a.projectId);
    assert.equal(sa.user_id, a.userId);
    assert.equal(sa['OS-EXT-SRV-ATTR:host'], undefined, 'host attributes are admin-only');

    const listA = await c.compute('GET', '/servers/detail', { token: a.token });
    assert.deepEqual(
      listA.body.servers.map((s: any) => s.id),
      [ida],
    );
    const other = await c.compute('GET', `/servers/${idb}`, { token: a.token });
    assert.equal(other.status, 404);
    assert.deepEqual(other.body, { itemNotFound: { code: 404, message: `Instance ${idb} could not be found.` } });
    assert.equal((await c.compute('DELETE', `/servers/${idb}`, { token: a.token })).status, 404);
    assert.equal(
      (await c.compute('POST', `/servers/${idb}/action`, { token: a.token, body: { 'os-stop': null } })).status,
      404,
    );

    const allTenants = await c.compute('GET', '/servers?all_tenants=True', { token: a.token });
    assert.equal(allTenants.status, 403);
    assert.equal(
      allTenants.body.forbidden.message,
      "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.",
    );
    const adminAll = await c.compute('GET', '/servers?all_tenants=1');
    assert.deepEqual(adminAll.body.servers.map((s: any) => s.id).sort(), [ida, idb].sort());
    const adminOwn = await c.compute('GET', '/servers');
    assert.deepEqual(adminOwn.body.servers, []);
    const byTenant = await c.compute('GET', `/servers/detail?all_tenants=1&tenant_id=${b.projectId}`);
    assert.deepEqual(
      byTenant.body.servers.map((s: any) => s.id),
      [idb],
    );
    const byName = await c.compute('GET', '/servers?name=a-v', { token: a.token });
    assert.equal(byName.body.servers.length, 1);
    const missing = await c.compute('GET', '/servers?name=nothing', { token: a.token });
    assert.deepEqual(missing.body.servers, []);

    for (const path of ['/os-hypervisors', '/os-hypervisors/detail', '/os-services']) {
      const res = await c.compute('GET', path, { token: a.token });
      assert.equal(res.status, 403, path);
      assert.match(
        res.body.forbidden.message,
        /^Policy doesn't allow os_compute_api:os-(hypervisors|services):list(-detail)? to be performed\.$/,
      );
    }
    const flavorCreate = await c.compute('POST', '/flavors', {
      token: a.token,
      body: { flavor: { name: 'x', ram: 64, vcpus: 1, disk: 1 } },
    });
    assert.equal(flavorCreate.status, 403);
    await deleteAll();
  });

  it('paginates server lists with limit and marker', async () => {
    const ids = [];
    for (const n of ['p1', 'p2', 'p3']) ids.push(await c.createServer(n));
    const page1 = await c.compute('GET', '/servers?limit=2');
    assert.equal(page1.body.servers.length, 2);
    const next = page1.body.servers_links[0];
    assert.equal(next.rel, 'next');
    const url = new URL(next.href);
    assert.equal(url.searchParams.get('marker'), page1.body.servers[1].id);
    const page2 = await c.compute('GET', `/servers?limit=2&marker=${page1.body.servers[1].id}`);
    assert.equal(page2.body.servers.length, 1);
    assert.equal(page2.body.servers_links, undefined);
    assert.equal((await c.compute('GET', '/servers?limit=0')).body.servers.length, 0);
    assert.equal((await c.compute('GET', '/servers?limit=-1')).status, 400);
    assert.equal((await c.compute('GET', '/servers?limit=abc')).status, 400);
    for (const id of ids) await c.waitStatus(id, 'ACTIVE');
    await deleteAll();
  });

  it('places server group members by policy (anti-affinity on distinct hosts)', async () => {
    const g = await c.compute('POST', '/os-server-groups', {
      body: { server_group: { name: 'spread', policies: ['anti-affinity'] } },
    });
    assert.equal(g.status, 200);
    const gid = g.body.server_group.id;
    const x = await c.createServer('g1', { hints: { group: gid } });
    const y = await c.createServer('g2', { hints: { group: gid } });
    const hx = (await c.waitStatus(x, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'];
    const hy = (await c.waitStatus(y, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'];
    assert.notEqual(hx, hy);
    const z = await c.createServer('g3', { hints: { group: gid } });
    const sz = await c.waitStatus(z, 'ERROR');
    assert.match(sz.fault.message, /^No valid host was found\./);
    const shown = await c.compute('GET', `/os-server-groups/${gid}`);
    assert.deepEqual(shown.body.server_group.members.sort(), [x, y, z].sort());
    const bad = await c.compute('POST', '/servers', {
      body: {
        server: { name: 'nogroup', imageRef: c.image.id, flavorRef: '1' },
        'os:scheduler_hints': { group: '00000000-0000-0000-0000-000000000000' },
      },
    });
    assert.equal(bad.status, 400);
    await deleteAll();
  });

  it('shows hypervisors and services from host records and allocations', async () => {
    const id = await c.createServer('counted', { flavorRef: '2' });
    const s = await c.waitStatus(id, 'ACTIVE');
    const list = await c.compute('GET', '/os-hypervisors');
    assert.deepEqual(
      list.body.hypervisors.map((h: any) => [h.hypervisor_hostname, h.state, h.status]),
      [
        ['node-1', 'up', 'enabled'],
        ['node-2', 'up', 'enabled'],
      ],
    );
    const detail = await c.compute('GET', '/os-hypervisors/detail');
    const h = detail.body.hypervisors.find((x: any) => x.hypervisor_hostname === s['OS-EXT-SRV-ATTR:host']);
    assert.equal(h.vcpus, 4);
    assert.equal(h.memory_mb, 512);
    assert.equal(h.local_gb, 20);
    assert.equal(h.vcpus_used, 1);
    assert.equal(h.memory_mb_used, 128);
    assert.equal(h.local_gb_used, 1);
    assert.equal(h.running_vms, 1);
    assert.equal(h.hypervisor_type, 'hypernova');
    assert.equal(h.hypervisor_version, 1000);
    assert.equal(typeof h.cpu_info, 'string');
    assert.equal(h.host_ip, '127.0.0.1');
    const one = await c.compute('GET', `/os-hypervisors/${h.id}`);
    assert.equal(one.body.hypervisor.hypervisor_hostname, h.hypervisor_hostname);
    assert.equal((await c.compute('GET', '/os-hypervisors/9999')).status, 404);

    const services = await c.compute('GET', '/os-services');
    assert.deepEqual(
      services.body.services.map((x: any) => [x.binary, x.host, x.zone, x.status, x.state]),
      [
        ['nova-compute', 'node-1', 'nova', 'enabled', 'up'],
        ['nova-compute', 'node-2', 'nova', 'enabled', 'up'],
      ],
    );
    assert.match(services.body.services[0].updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const disable = await c.compute('PUT', '/os-services/disable', {
      body: { host: 'node-1', binary: 'nova-compute' },
    });
    assert.equal(disable.body.service.status, 'disabled');
    assert.equal((await c.compute('GET', '/os-services?host=node-1')).body.services[0].status, 'disabled');
    await c.compute('PUT', '/os-services/enable', { body: { host: 'node-1', binary: 'nova-compute' } });
    await deleteAll();
  });

  it('lists flavors and images, shows limits, and lets admins create and delete flavors', async () => {
    const flavors = await c.compute('GET', '/flavors/detail');
    assert.deepEqual(
      flavors.body.flavors.map((f: any) => [f.id, f.name, f.vcpus, f.ram, f.disk]),
      [
        ['1', 'm1.tiny', 1, 64, 1],
        ['2', 'm1.small', 1, 128, 1],
        ['3', 'm1.medium', 1, 256, 2],
        ['4', 'm1.large', 2, 512, 4],
      ],
    );
    assert.equal(flavors.body.flavors[0]['os-flavor-access:is_public'], true);
    assert.equal(flavors.body.flavors[0]['OS-FLV-EXT-DATA:ephemeral'], 0);
    assert.equal((await c.compute('GET', '/flavors/m1.tiny')).status, 404);
    assert.deepEqual((await c.compute('GET', '/flavors/1/os-extra_specs')).body, { extra_specs: {} });
    const created = await c.compute('POST', '/flavors', {
      body: {
        flavor: { name: 'rv.micro', ram: 32, vcpus: 1, disk: 0, id: 'micro', 'os-flavor-access:is_public': 'False' },
      },
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.flavor['os-flavor-access:is_public'], false);
    assert.equal(
      (await c.compute('POST', '/flavors', { body: { flavor: { name: 'rv.micro', ram: 32, vcpus: 1, disk: 0 } } }))
        .status,
      409,
    );
    const m = await c.tenant('flavor-viewer');
    assert.equal((await c.compute('GET', '/flavors/micro', { token: m.token })).status, 404);
    assert.equal((await c.compute('DELETE', '/flavors/micro')).status, 202);
    assert.equal((await c.compute('GET', '/flavors/micro')).status, 404);

    const images = await c.compute('GET', '/images/detail');
    const img = images.body.images.find((i: any) => i.id === c.image.id);
    assert.equal(img.status, 'ACTIVE');
    assert.equal(img.metadata.architecture, 'riscv32');
    assert.equal(img.minRam, 32);
    assert.equal((await c.compute('GET', `/images/${c.image.id}`)).body.image.name, 'hypernova-guest');
    assert.equal((await c.compute('GET', '/images/not-a-uuid')).status, 404);

    const limits = await c.compute('GET', '/limits', { token: m.token });
    assert.equal(limits.body.limits.absolute.maxTotalInstances, 10);
    assert.equal(limits.body.limits.absolute.totalInstancesUsed, 0);
  });

  it('negotiates microversions and echoes the version and request id headers', async () => {
    const doc = await c.request('GET', '/compute/v2.1');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.version.id, 'v2.1');
    assert.equal(doc.body.version.status, 'CURRENT');
    const versions = await c.request('GET', '/compute/');
    assert.deepEqual(
      versions.body.versions.map((v: any) => v.id),
      ['v2.0', 'v2.1'],
    );
    assert.equal((await c.request('GET', '/compute/v2/')).body.version.id, 'v2.0');

    const plain = await c.compute('GET', '/flavors');
    assert.equal(plain.headers.get('x-openstack-nova-api-version'), '2.1');
    assert.equal(plain.headers.get('openstack-api-version'), 'compute 2.1');
    assert.match(plain.headers.get('vary') ?? '', /X-OpenStack-Nova-API-Version/);
    const rid = plain.headers.get('x-compute-request-id');
    assert.match(rid ?? '', /^req-[0-9a-f-]{36}$/);
    assert.equal(plain.headers.get('x-openstack-request-id'), rid);

    const legacy = await c.compute('GET', '/flavors', { headers: { 'X-OpenStack-Nova-API-Version': '2.1' } });
    assert.equal(legacy.headers.get('x-openstack-nova-api-version'), '2.1');
    const latest = await c.compute('GET', '/flavors', { headers: { 'OpenStack-API-Version': 'compute latest' } });
    assert.equal(latest.status, 200);
    assert.equal(latest.headers.get('openstack-api-version'), 'compute 2.25');
    assert.equal(doc.body.version.version, '2.25');
    assert.equal(doc.body.version.min_version, '2.1');
    const tooNew = await c.compute('GET', '/servers', { headers: { 'X-OpenStack-Nova-API-Version': '2.92' } });
    assert.equal(tooNew.status, 406);
    assert.deepEqual(tooNew.body, {
      computeFault: {
        code: 406,
        message: 'Version 2.92 is not supported by the API. Minimum is 2.1 and maximum is 2.25.',
      },
    });
    const garbage = await c.compute('GET', '/servers', { headers: { 'OpenStack-API-Version': 'compute two' } });
    assert.equal(garbage.status, 400);
  });

  it("enforces the instance quota with Nova's 403", async () => {
    const q = await c.tenant('quota');
    const res = await c.compute('POST', '/servers', {
      token: q.token,
      body: { server: { name: 'many', imageRef: c.image.id, flavorRef: '1', min_count: 11, max_count: 11 } },
    });
    assert.equal(res.status, 403);
    assert.equal(
      res.body.forbidden.message,
      'Quota exceeded for instances: Requested 11, but already used 0 of 10 instances',
    );
  });

  it('deletes a server while it is still building: the build stops, nothing is left behind', async () => {
    for (const n of c.nodes) n.spawnDelayMs = 400;
    const id = await c.createServer('hasty');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await c.compute('DELETE', `/servers/${id}`)).status, 204);
    await c.waitServer(id, 'gone');
    await c.gateway.gateway.tasks.idle();
    assert.equal(await c.redis.exists(redisKeys.allocation(id)), 0);
    for (const n of c.nodes) assert.equal(n.instances.has(id), false, n.name);
    assert.equal((await auditPlacement(c.redis)).allocations, 0);
  });

  it("deletes locally when the server's node is gone, releasing its claim", async () => {
    const lone = await c.addNode('node-3', { availabilityZone: 'az3' });
    const id = await c.createServer('orphan', { extra: { availability_zone: 'az3' } });
    const s = await c.waitStatus(id, 'ACTIVE');
    assert.equal(s['OS-EXT-SRV-ATTR:host'], 'node-3');
    assert.equal(s['OS-EXT-AZ:availability_zone'], 'az3');
    await lone.stop({ markDown: true });
    c.nodes.splice(c.nodes.indexOf(lone), 1);
    const services = await c.compute('GET', '/os-services?host=node-3');
    assert.equal(services.body.services[0].state, 'down');
    assert.equal((await c.compute('DELETE', `/servers/${id}`)).status, 204);
    await c.waitServer(id, 'gone');
    assert.equal(await c.redis.exists(redisKeys.allocation(id)), 0);
  });

  it('fails builds abandoned by a dead gateway, and a build that was only slow cleans up after itself', async () => {
    for (const n of c.nodes) n.spawnDelayMs = 600;
    const id = await c.createServer('slow');
    await c.waitServer(id, (s) => s['OS-EXT-STS:task_state'] === 'spawning');
    // Sweep as if the build had been silent for a very long time.
    assert.deepEqual(await c.gateway.gateway.reaper.sweep(Date.now() + 10 ** 9), [id]);
    const s = await c.waitStatus(id, 'ERROR');
    assert.match(s.fault.message, /was abandoned/);
    await c.gateway.gateway.tasks.idle();
    for (const n of c.nodes) assert.equal(n.instances.has(id), false, n.name);
    assert.equal(await c.redis.exists(redisKeys.allocation(id)), 0);
    assert.deepEqual(await c.gateway.gateway.reaper.sweep(), []);
    await deleteAll();
  });
});
