// The rest of Nova's API the gateway serves: server update and list filters, flavor extra specs
// and atomic flavor names, services enable/disable/forced_down (the scheduler avoids a
// forced-down host), availability zones, migrations, live-migration policy, and the shapes that
// change with the microversion.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { Cluster } from './cluster.js';

const at = (v: string) => ({ 'X-OpenStack-Nova-API-Version': v });

describe('api-gateway: server update, filters, flavors, services, zones, migrations', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start({ nodes: [{}, { availabilityZone: 'az2' }] });
  });
  after(async () => {
    await c?.stop();
  });

  async function deleteAll(): Promise<void> {
    const list = await c.compute('GET', '/servers?all_tenants=1');
    for (const s of list.body.servers) await c.compute('DELETE', `/servers/${s.id}`);
    for (const s of list.body.servers) await c.waitServer(s.id, 'gone');
  }

  it('renames a server with PUT, answering the base server keys', async () => {
    const id = await c.createServer('before');
    await c.waitStatus(id, 'ACTIVE');
    const res = await c.compute('PUT', `/servers/${id}`, {
      body: { server: { name: 'after', accessIPv4: '10.0.0.7' } },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.server.name, 'after');
    assert.equal(res.body.server.accessIPv4, '10.0.0.7');
    assert.equal(res.body.server['OS-EXT-STS:vm_state'], undefined, 'below 2.75 no extended attributes');
    assert.equal((await c.compute('GET', `/servers/${id}`)).body.server.name, 'after');
    for (const body of [{ server: { name: '' } }, { server: { flavorRef: '2' } }, { server: { name: 5 } }, {}]) {
      assert.equal((await c.compute('PUT', `/servers/${id}`, { body })).status, 400, JSON.stringify(body));
    }
    const m = await c.tenant('renamer');
    assert.equal(
      (await c.compute('PUT', `/servers/${id}`, { token: m.token, body: { server: { name: 'x' } } })).status,
      404,
    );
    await deleteAll();
  });

  it('filters server lists by name, status and host (admins), with servers_links pages', async () => {
    const a = await c.createServer('alpha-1');
    const b = await c.createServer('alpha-2', { extra: { availability_zone: 'az2' } });
    const d = await c.createServer('beta');
    const hosts = new Map<string, string>();
    for (const [id, name] of [
      [a, 'alpha-1'],
      [b, 'alpha-2'],
      [d, 'beta'],
    ])
      hosts.set(name, (await c.waitStatus(id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host']);
    await c.compute('POST', `/servers/${d}/action`, { body: { 'os-stop': null } });
    await c.waitStatus(d, 'SHUTOFF');
    const names = async (q: string) =>
      (await c.compute('GET', `/servers?${q}`)).body.servers.map((s: any) => s.name).sort();
    assert.deepEqual(await names('name=alpha'), ['alpha-1', 'alpha-2']);
    assert.deepEqual(await names('name=^beta$'), ['beta']);
    assert.deepEqual(await names('status=SHUTOFF'), ['beta']);
    assert.deepEqual(await names('status=ACTIVE&name=alpha'), ['alpha-1', 'alpha-2']);
    for (const host of ['node-1', 'node-2']) {
      assert.deepEqual(
        await names(`host=${host}`),
        [...hosts]
          .filter(([, h]) => h === host)
          .map(([n]) => n)
          .sort(),
      );
    }
    assert.equal(hosts.get('alpha-2'), 'node-2', 'az2 is node-2');
    const page = await c.compute('GET', '/servers/detail?limit=1&name=alpha');
    assert.equal(page.body.servers.length, 1);
    const next = new URL(page.body.servers_links[0].href);
    assert.equal(next.pathname, '/compute/v2.1/servers/detail');
    assert.equal(next.searchParams.get('name'), 'alpha');
    const rest = await c.request('GET', next.pathname + next.search, { token: c.adminToken });
    assert.equal(rest.body.servers.length, 1);
    assert.notEqual(rest.body.servers[0].id, page.body.servers[0].id);
    await deleteAll();
  });

  it("shows 2.3's extra server attributes to admins, and `locked` from 2.9", async () => {
    const id = await c.createServer('versioned');
    await c.waitStatus(id, 'ACTIVE');
    const v21 = (await c.compute('GET', `/servers/${id}`)).body.server;
    assert.equal(v21['OS-EXT-SRV-ATTR:hostname'], undefined);
    assert.equal(v21.locked, undefined);
    const res = await c.compute('GET', `/servers/${id}`, { headers: at('2.9') });
    assert.equal(res.headers.get('x-openstack-nova-api-version'), '2.9');
    const s = res.body.server;
    assert.equal(s['OS-EXT-SRV-ATTR:hostname'], 'versioned');
    assert.equal(s['OS-EXT-SRV-ATTR:launch_index'], 0);
    assert.match(s['OS-EXT-SRV-ATTR:reservation_id'], /^r-/);
    assert.equal(s.locked, false);
    const m = await c.tenant('versioned-member');
    const mine = await c.createServer('m', { token: m.token });
    const ms = (await c.compute('GET', `/servers/${mine}`, { token: m.token, headers: at('2.11') })).body.server;
    assert.equal(ms['OS-EXT-SRV-ATTR:hostname'], undefined, 'admin-only');
    await deleteAll();
  });

  it('manages flavor extra specs (admin) and keeps flavor names unique under racing creates', async () => {
    const set = await c.compute('POST', '/flavors/1/os-extra_specs', {
      body: { extra_specs: { 'hw:cpu_policy': 'shared', 'quota:disk_read_bytes_sec': 1000 } },
    });
    assert.equal(set.status, 200, set.text);
    assert.deepEqual(set.body.extra_specs, { 'hw:cpu_policy': 'shared', 'quota:disk_read_bytes_sec': '1000' });
    const put = await c.compute('PUT', '/flavors/1/os-extra_specs/hw:cpu_policy', {
      body: { 'hw:cpu_policy': 'dedicated' },
    });
    assert.deepEqual(put.body, { 'hw:cpu_policy': 'dedicated' });
    assert.equal((await c.compute('PUT', '/flavors/1/os-extra_specs/a', { body: { b: 'x' } })).status, 400);
    assert.deepEqual((await c.compute('GET', '/flavors/1/os-extra_specs')).body.extra_specs, {
      'hw:cpu_policy': 'dedicated',
      'quota:disk_read_bytes_sec': '1000',
    });
    assert.deepEqual((await c.compute('GET', '/flavors/1/os-extra_specs/hw:cpu_policy')).body, {
      'hw:cpu_policy': 'dedicated',
    });
    assert.equal((await c.compute('DELETE', '/flavors/1/os-extra_specs/quota:disk_read_bytes_sec')).status, 200);
    assert.equal((await c.compute('DELETE', '/flavors/1/os-extra_specs/quota:disk_read_bytes_sec')).status, 404);
    assert.equal(
      (await c.compute('POST', '/flavors/1/os-extra_specs', { body: { extra_specs: { 'bad/key': 'x' } } })).status,
      400,
    );
    assert.equal(
      (await c.compute('POST', '/flavors/999/os-extra_specs', { body: { extra_specs: { a: 'x' } } })).status,
      404,
    );
    const m = await c.tenant('spec-reader');
    assert.equal((await c.compute('GET', '/flavors/1/os-extra_specs', { token: m.token })).status, 200);
    assert.equal(
      (await c.compute('POST', '/flavors/1/os-extra_specs', { token: m.token, body: { extra_specs: { a: 'x' } } }))
        .status,
      403,
    );
    assert.equal(
      (await c.compute('DELETE', '/flavors/1/os-extra_specs/hw:cpu_policy', { token: m.token })).status,
      403,
    );
    assert.equal((await c.compute('DELETE', '/flavors/1', { token: m.token })).status, 403);
    await c.compute('DELETE', '/flavors/1/os-extra_specs/hw:cpu_policy');

    const racers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        c.compute('POST', '/flavors', {
          body: { flavor: { name: 'contested', ram: 64, vcpus: 1, disk: 1, id: `c${i}` } },
        }),
      ),
    );
    assert.deepEqual(racers.map((r) => r.status).sort(), [200, 409, 409, 409, 409, 409, 409, 409]);
    const winner = racers.find((r) => r.status === 200)?.body.flavor.id;
    assert.equal((await c.compute('DELETE', `/flavors/${winner}`)).status, 202);
  });

  it('disables, enables and (at 2.11) forces down services; the scheduler avoids a forced-down host', async () => {
    const list = await c.compute('GET', '/os-services', { headers: at('2.11') });
    assert.equal(list.headers.get('openstack-api-version'), 'compute 2.11');
    assert.deepEqual(
      list.body.services.map((s: any) => s.forced_down),
      [false, false],
    );
    assert.equal((await c.compute('GET', '/os-services')).body.services[0].forced_down, undefined, 'not before 2.11');

    const reason = await c.compute('PUT', '/os-services/disable-log-reason', {
      body: { host: 'node-1', binary: 'nova-compute', disabled_reason: 'maintenance' },
    });
    assert.deepEqual(reason.body.service, {
      host: 'node-1',
      binary: 'nova-compute',
      status: 'disabled',
      disabled_reason: 'maintenance',
    });
    assert.equal((await c.compute('GET', '/os-services?host=node-1')).body.services[0].disabled_reason, 'maintenance');
    await c.compute('PUT', '/os-services/enable', { body: { host: 'node-1', binary: 'nova-compute' } });

    assert.equal(
      (
        await c.compute('PUT', '/os-services/force-down', {
          body: { host: 'node-1', binary: 'nova-compute', forced_down: true },
        })
      ).status,
      404,
      'force-down needs 2.11',
    );
    const down = await c.compute('PUT', '/os-services/force-down', {
      headers: at('2.11'),
      body: { host: 'node-1', binary: 'nova-compute', forced_down: true },
    });
    assert.equal(down.status, 200, down.text);
    assert.deepEqual(down.body.service, { host: 'node-1', binary: 'nova-compute', forced_down: true });
    const shown = (await c.compute('GET', '/os-services?host=node-1', { headers: at('2.11') })).body.services[0];
    assert.equal(shown.forced_down, true);
    assert.equal(shown.state, 'down');
    assert.equal((await c.compute('GET', '/os-hypervisors')).body.hypervisors[0].state, 'down');
    await new Promise((r) => setTimeout(r, 300)); // the scheduler re-reads host states every 100 ms
    const ids = [await c.createServer('f1'), await c.createServer('f2')];
    for (const id of ids) assert.equal((await c.waitStatus(id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'], 'node-2');
    const up = await c.compute('PUT', '/os-services/force-down', {
      headers: at('2.11'),
      body: { host: 'node-1', binary: 'nova-compute', forced_down: false },
    });
    assert.equal(up.body.service.forced_down, false);
    assert.equal((await c.compute('GET', '/os-services?host=node-1')).body.services[0].state, 'up');
    assert.equal(
      (
        await c.compute('PUT', '/os-services/force-down', {
          headers: at('2.11'),
          body: { host: 'node-1', binary: 'nova-compute' },
        })
      ).status,
      400,
    );
    await deleteAll();
  });

  it('lists availability zones (detail for admins) and an empty migration list', async () => {
    const zones = await c.compute('GET', '/os-availability-zone');
    assert.deepEqual(zones.body.availabilityZoneInfo, [
      { zoneName: 'az2', zoneState: { available: true }, hosts: null },
      { zoneName: 'nova', zoneState: { available: true }, hosts: null },
    ]);
    const detail = await c.compute('GET', '/os-availability-zone/detail');
    const nova = detail.body.availabilityZoneInfo.find((z: any) => z.zoneName === 'nova');
    assert.deepEqual(Object.keys(nova.hosts), ['node-1']);
    assert.equal(nova.hosts['node-1']['nova-compute'].available, true);
    assert.equal(nova.hosts['node-1']['nova-compute'].active, true);
    assert.ok(detail.body.availabilityZoneInfo.some((z: any) => z.zoneName === 'internal'));
    const m = await c.tenant('zone-viewer');
    assert.equal((await c.compute('GET', '/os-availability-zone', { token: m.token })).status, 200);
    assert.equal((await c.compute('GET', '/os-availability-zone/detail', { token: m.token })).status, 403);

    const migrations = await c.compute('GET', '/os-migrations');
    assert.equal(migrations.status, 200);
    assert.deepEqual(migrations.body, { migrations: [] });
    assert.equal((await c.compute('GET', '/os-migrations', { token: m.token })).status, 403);
  });

  it('keeps live migration for admins (403 for members) and validates its body', async () => {
    const m = await c.tenant('migrator');
    const id = await c.createServer('mover', { token: m.token });
    await c.waitStatus(id, 'ACTIVE', m.token);
    const body = { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } };
    const member = await c.compute('POST', `/servers/${id}/action`, { token: m.token, body });
    assert.equal(member.status, 403);
    assert.equal(
      member.body.forbidden.message,
      "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.",
    );
    assert.equal(
      (await c.compute('POST', `/servers/${id}/action`, { body: { 'os-migrateLive': { host: null } } })).status,
      400,
    );
    assert.equal((await c.compute('POST', `/servers/${id}/action`, { body: { 'os-migrateLive': null } })).status, 400);
    await deleteAll();
  });
});
