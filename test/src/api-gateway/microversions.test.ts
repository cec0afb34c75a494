// What microversions 2.12-2.21 change in behaviour (the shapes are in contract-compute): server
// group owners and soft policies (2.13, 2.15), host_status from the host's state (2.16),
// trigger_crash_dump (2.17), server descriptions (2.19) and the actions of deleted servers (2.21).
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { markHostDown } from '@hypernova/cluster-state';
import { Cluster } from './cluster.js';

const at = (v: string) => ({ 'X-OpenStack-Nova-API-Version': v });

describe('api-gateway: microversions 2.12-2.21', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start({ nodes: [{}, {}] });
  });
  after(async () => {
    await c?.stop();
  });

  async function deleteAll(): Promise<void> {
    const list = await c.compute('GET', '/servers?all_tenants=1');
    for (const s of list.body.servers) await c.compute('DELETE', `/servers/${s.id}`);
    for (const s of list.body.servers) await c.waitServer(s.id, 'gone');
  }

  const createGroup = async (policy: string, v = '2.15', token?: string) =>
    c.compute('POST', '/os-server-groups', {
      token: token ?? c.adminToken,
      headers: at(v),
      body: { server_group: { name: policy, policies: [policy] } },
    });

  it('2.13: server groups show their project and user; 2.15: soft policies only from 2.15', async () => {
    const m = await c.tenant('grouper');
    const g = await createGroup('affinity', '2.13', m.token);
    assert.equal(g.status, 200, g.text);
    assert.equal(g.body.server_group.project_id, m.projectId);
    assert.equal(g.body.server_group.user_id, m.userId);
    const old = await c.compute('GET', `/os-server-groups/${g.body.server_group.id}`, {
      token: m.token,
      headers: at('2.12'),
    });
    assert.equal(old.body.server_group.project_id, undefined);
    assert.equal(old.body.server_group.user_id, undefined);
    for (const policy of ['soft-affinity', 'soft-anti-affinity']) {
      const refused = await createGroup(policy, '2.14', m.token);
      assert.equal(refused.status, 400, refused.text);
      assert.match(refused.body.badRequest.message, new RegExp(`"${policy}" is not one of`));
      const made = await createGroup(policy, '2.15', m.token);
      assert.equal(made.status, 200, made.text);
      assert.deepEqual(made.body.server_group.policies, [policy]);
    }
    assert.equal((await createGroup('no-such-policy', '2.15', m.token)).status, 400);
  });

  it('2.15: soft policies weigh but never refuse a host (where hard ones would fail)', async () => {
    // Soft anti-affinity: three members on two hosts all build, spread over both.
    const made = await createGroup('soft-anti-affinity');
    assert.equal(made.status, 200, made.text);
    const soft = made.body.server_group.id;
    const spread = [];
    for (let i = 0; i < 3; i++) spread.push(await c.createServer(`sa${i}`, { hints: { group: soft } }));
    const hosts = [];
    for (const id of spread) hosts.push((await c.waitStatus(id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host']);
    assert.deepEqual([...new Set(hosts)].sort(), ['node-1', 'node-2'], hosts.join());
    // The hard policy with the same members left no host: the fourth member fails.
    const hard = (await createGroup('anti-affinity')).body.server_group.id;
    for (let i = 0; i < 2; i++)
      await c.waitStatus(await c.createServer(`ha${i}`, { hints: { group: hard } }), 'ACTIVE');
    await c.waitStatus(await c.createServer('ha-extra', { hints: { group: hard } }), 'ERROR');

    // Soft affinity: the member's host disabled, the next member still builds, elsewhere.
    const near = (await createGroup('soft-affinity')).body.server_group.id;
    const first = await c.createServer('sf0', { hints: { group: near } });
    const home = (await c.waitStatus(first, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'];
    await c.compute('PUT', '/os-services/disable', { body: { host: home, binary: 'nova-compute' } });
    try {
      await new Promise((r) => setTimeout(r, 300)); // the scheduler re-reads host states every 100 ms
      const second = await c.waitStatus(await c.createServer('sf1', { hints: { group: near } }), 'ACTIVE');
      assert.notEqual(second['OS-EXT-SRV-ATTR:host'], home);
      const members = (await c.compute('GET', `/os-server-groups/${near}`)).body.server_group.members;
      assert.equal(members.length, 2);
    } finally {
      await c.compute('PUT', '/os-services/enable', { body: { host: home, binary: 'nova-compute' } });
    }
    await deleteAll();
  });

  it('2.19: descriptions on create and update, null when unset, the name when created below 2.19', async () => {
    const create = (server: object, v = '2.19') =>
      c.compute('POST', '/servers', {
        headers: at(v),
        body: { server: { name: 'd', imageRef: c.image.id, flavorRef: '1', ...server } },
      });
    const show = async (id: string, v = '2.19') =>
      (await c.compute('GET', `/servers/${id}`, { headers: at(v) })).body.server;
    const described = (await create({ description: 'my server' })).body.server.id;
    const blank = (await create({ description: '' })).body.server.id;
    const none = (await create({})).body.server.id;
    const old = (await create({ name: 'named' }, '2.18')).body.server.id;
    assert.equal((await show(described)).description, 'my server');
    assert.equal((await show(blank)).description, '');
    assert.equal((await show(none)).description, null);
    assert.equal((await show(old)).description, 'named', 'Nova sets the name below 2.19');
    assert.equal((await show(described, '2.18')).description, undefined);
    const inList = (await c.compute('GET', '/servers/detail', { headers: at('2.19') })).body.servers.find(
      (s: any) => s.id === described,
    );
    assert.equal(inList.description, 'my server');

    const put = (id: string, server: object, v = '2.19') =>
      c.compute('PUT', `/servers/${id}`, { headers: at(v), body: { server } });
    const changed = await put(described, { description: 'renamed' });
    assert.equal(changed.status, 200, changed.text);
    assert.equal(changed.body.server.description, 'renamed');
    assert.equal((await put(described, { description: null })).body.server.description, null, 'null clears it');
    assert.equal((await show(described)).description, null);
    assert.equal((await put(none, { name: 'still' })).body.server.description, null, 'a rename keeps it');

    for (const bad of [
      { description: 'x'.repeat(256) },
      { description: 'two\nlines' },
      { description: 'bell\u0007' },
      { description: 5 },
    ]) {
      assert.equal((await create(bad)).status, 400, JSON.stringify(bad));
      assert.equal((await put(none, bad)).status, 400, JSON.stringify(bad));
    }
    assert.equal((await create({ description: 'x'.repeat(255) })).status, 202);
    assert.equal((await create({ description: 'élan – ok ✓' })).status, 202, 'printable Unicode is fine');
    const early = await put(none, { description: 'too early' }, '2.18');
    assert.equal(early.status, 400);
    assert.match(early.body.badRequest.message, /'description' was unexpected/);
    assert.equal((await create({ description: 'too early' }, '2.18')).status, 400);
    await deleteAll();
  });

  it("2.16: host_status for admins from the host's enabled, forced_down and heartbeat", async () => {
    const id = await c.createServer('hs');
    const host = (await c.waitStatus(id, 'ACTIVE'))['OS-EXT-SRV-ATTR:host'];
    const status = async (v = '2.16') =>
      (await c.compute('GET', `/servers/${id}`, { headers: at(v) })).body.server.host_status;
    assert.equal(await status(), 'UP');
    assert.equal(await status('2.15'), undefined);
    await c.compute('PUT', '/os-services/disable', { body: { host, binary: 'nova-compute' } });
    assert.equal(await status(), 'MAINTENANCE');
    const force = (down: boolean) =>
      c.compute('PUT', '/os-services/force-down', {
        headers: at('2.11'),
        body: { host, binary: 'nova-compute', forced_down: down },
      });
    await force(true);
    assert.equal(await status(), 'DOWN', 'forced down wins over disabled');
    await force(false);
    await c.compute('PUT', '/os-services/enable', { body: { host, binary: 'nova-compute' } });
    assert.equal(await status(), 'UP');
    // A lapsed heartbeat (the fake node beats again within 500 ms: try until a read lands in between).
    let lapsed = '';
    for (let i = 0; i < 5 && lapsed !== 'UNKNOWN'; i++) {
      await markHostDown(c.redis, host);
      lapsed = await status();
    }
    assert.equal(lapsed, 'UNKNOWN');
    for (let i = 0; i < 40 && (await status()) !== 'UP'; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await status(), 'UP', 'beating again');

    // Members never see it; an unplaced (errored) server has ''.
    const m = await c.tenant('hs-member');
    const mine = await c.createServer('hs-member', { token: m.token });
    await c.waitStatus(mine, 'ACTIVE', m.token);
    assert.equal(
      (await c.compute('GET', `/servers/${mine}`, { token: m.token, headers: at('2.16') })).body.server.host_status,
      undefined,
    );
    const memberList = (await c.compute('GET', '/servers/detail', { token: m.token, headers: at('2.21') })).body
      .servers;
    assert.ok(memberList.every((s: any) => !('host_status' in s)));
    c.nodes.forEach((n) => (n.failSpawn = 'refused'));
    const failed = await c.createServer('hs-failed');
    await c.waitStatus(failed, 'ERROR');
    c.nodes.forEach((n) => (n.failSpawn = undefined));
    const detail = (await c.compute('GET', '/servers/detail?all_tenants=1', { headers: at('2.16') })).body.servers;
    assert.equal(detail.find((s: any) => s.id === failed).host_status, '');
    assert.equal(detail.find((s: any) => s.id === id).host_status, 'UP');
    await deleteAll();
  });

  it('2.17: trigger_crash_dump checks the server, then answers that the nodes cannot', async () => {
    const m = await c.tenant('dumper');
    const id = await c.createServer('dump', { token: m.token });
    await c.waitStatus(id, 'ACTIVE', m.token);
    const dump = (body: unknown, v = '2.17', server = id) =>
      c.compute('POST', `/servers/${server}/action`, { token: m.token, headers: at(v), body });
    const res = await dump({ trigger_crash_dump: null });
    assert.equal(res.status, 400);
    assert.equal(res.body.badRequest.message, 'Triggering crash dump is not supported');
    assert.equal(
      (await dump({ trigger_crash_dump: null }, '2.16')).body.badRequest.message,
      'There is no such action: trigger_crash_dump',
    );
    assert.match((await dump({ trigger_crash_dump: {} })).body.badRequest.message, /is not of type 'null'/);
    assert.equal(
      (await dump({ trigger_crash_dump: null }, '2.17', '00000000-0000-0000-0000-000000000000')).status,
      404,
    );
    const other = await c.tenant('not-dumper');
    assert.equal(
      (
        await c.compute('POST', `/servers/${id}/action`, {
          token: other.token,
          headers: at('2.17'),
          body: { trigger_crash_dump: null },
        })
      ).status,
      404,
    );
    await c.compute('POST', `/servers/${id}/action`, { token: m.token, body: { 'os-stop': null } });
    await c.waitStatus(id, 'SHUTOFF', m.token);
    const stopped = await dump({ trigger_crash_dump: null });
    assert.equal(stopped.status, 409);
    assert.equal(
      stopped.body.conflictingRequest.message,
      `Cannot 'trigger_crash_dump' instance ${id} while it is in vm_state stopped`,
    );
    await deleteAll();
  });

  it("2.21: a deleted server's actions stay readable by its project and admins", async () => {
    const m = await c.tenant('deleter');
    const id = await c.createServer('short-lived', { token: m.token });
    await c.waitStatus(id, 'ACTIVE', m.token);
    await c.compute('DELETE', `/servers/${id}`, { token: m.token });
    await c.waitServer(id, 'gone');
    const list = (token: string, v: string) =>
      c.compute('GET', `/servers/${id}/os-instance-actions`, { token, headers: at(v) });
    assert.equal((await list(m.token, '2.20')).status, 404);
    const actions = await list(m.token, '2.21');
    assert.equal(actions.status, 200, actions.text);
    assert.deepEqual(
      actions.body.instanceActions.map((a: any) => a.action),
      ['delete', 'create'],
    );
    const del = actions.body.instanceActions[0];
    const shown = await c.compute('GET', `/servers/${id}/os-instance-actions/${del.request_id}`, {
      token: m.token,
      headers: at('2.21'),
    });
    assert.equal(shown.status, 200, shown.text);
    assert.equal(shown.body.instanceAction.action, 'delete');
    const asAdmin = await c.compute('GET', `/servers/${id}/os-instance-actions/${del.request_id}`, {
      headers: at('2.21'),
    });
    assert.ok(asAdmin.body.instanceAction.events.length > 0, 'admins see the events');
    assert.equal(
      (await c.compute('GET', `/servers/${id}/os-instance-actions/req-nope`, { token: m.token, headers: at('2.21') }))
        .status,
      404,
    );
    const other = await c.tenant('not-deleter');
    assert.equal((await list(other.token, '2.21')).status, 404, 'another project cannot read them');
    assert.equal((await list(c.adminToken, '2.21')).status, 200);
    const unknown = await c.compute('GET', '/servers/00000000-0000-0000-0000-000000000000/os-instance-actions', {
      headers: at('2.21'),
    });
    assert.equal(unknown.status, 404);
  });
});
