// os-quota-sets and their enforcement: show, defaults, detail with usage, admin update (refused
// below usage without force) and reset; creates racing for the last quota slots never overshoot;
// min/max creates take what fits; limits show usage; server group and member quotas.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { Cluster } from './cluster.js';

describe('api-gateway: quotas', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start({
      nodes: [
        { vcpus: 64, ramMb: 8192 },
        { vcpus: 64, ramMb: 8192 },
      ],
    });
  });
  after(async () => {
    await c?.stop();
  });

  async function deleteAll(token: string): Promise<void> {
    const list = await c.compute('GET', '/servers', { token });
    for (const s of list.body.servers) await c.compute('DELETE', `/servers/${s.id}`, { token });
    for (const s of list.body.servers) await c.waitServer(s.id, 'gone', { token });
  }

  it('shows quotas, defaults and usage; admins update and reset them; members may not', async () => {
    const m = await c.tenant('quota-show');
    const shown = await c.compute('GET', `/os-quota-sets/${m.projectId}`, { token: m.token });
    assert.equal(shown.status, 200);
    const q = shown.body.quota_set;
    assert.equal(q.id, m.projectId);
    assert.equal(q.instances, 10);
    assert.equal(q.cores, 20);
    assert.equal(q.key_pairs, 100);
    assert.equal(q.floating_ips, -1, 'network quotas are still listed at 2.1');
    const defaults = await c.compute('GET', `/os-quota-sets/${m.projectId}/defaults`, { token: m.token });
    assert.deepEqual(defaults.body.quota_set, q);

    const id = await c.createServer('counted', { token: m.token, flavorRef: '2' });
    await c.waitStatus(id, 'ACTIVE', m.token);
    const detail = await c.compute('GET', `/os-quota-sets/${m.projectId}/detail`, { token: m.token });
    assert.deepEqual(detail.body.quota_set.instances, { in_use: 1, limit: 10, reserved: 0 });
    assert.deepEqual(detail.body.quota_set.ram, { in_use: 128, limit: 51200, reserved: 0 });

    const other = await c.tenant('quota-other');
    assert.equal((await c.compute('GET', `/os-quota-sets/${m.projectId}`, { token: other.token })).status, 403);
    const memberUpdate = await c.compute('PUT', `/os-quota-sets/${m.projectId}`, {
      token: m.token,
      body: { quota_set: { instances: 50 } },
    });
    assert.equal(memberUpdate.status, 403);
    assert.equal(
      memberUpdate.body.forbidden.message,
      "Policy doesn't allow os_compute_api:os-quota-sets:update to be performed.",
    );

    const updated = await c.compute('PUT', `/os-quota-sets/${m.projectId}`, {
      body: { quota_set: { instances: 5, cores: '8' } },
    });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(updated.body.quota_set.instances, 5);
    assert.equal(updated.body.quota_set.cores, 8);
    assert.equal(updated.body.quota_set.id, undefined);
    const below = await c.compute('PUT', `/os-quota-sets/${m.projectId}`, { body: { quota_set: { instances: 0 } } });
    assert.equal(below.status, 400);
    assert.equal(
      below.body.badRequest.message,
      'Quota limit 0 for instances must be greater than or equal to already used and reserved 1.',
    );
    assert.equal(
      (await c.compute('PUT', `/os-quota-sets/${m.projectId}`, { body: { quota_set: { instances: 0, force: true } } }))
        .status,
      200,
    );
    for (const bad of [
      { instances: -2 },
      { instances: '-5' },
      { instances: 'many' },
      { unicorns: 1 },
      { instances: 1.5 },
    ]) {
      assert.equal(
        (await c.compute('PUT', `/os-quota-sets/${m.projectId}`, { body: { quota_set: bad } })).status,
        400,
        JSON.stringify(bad),
      );
    }
    assert.equal(
      (await c.compute('PUT', '/os-quota-sets/no-such-project', { body: { quota_set: { instances: 1 } } })).status,
      400,
    );

    const limits = await c.compute('GET', '/limits', { token: m.token });
    assert.equal(limits.body.limits.absolute.maxTotalInstances, 0);
    assert.equal(limits.body.limits.absolute.totalInstancesUsed, 1);
    assert.equal(limits.body.limits.absolute.totalRAMUsed, 128);
    const refused = await c.compute('POST', '/servers', {
      token: m.token,
      body: { server: { name: 'no', imageRef: c.image.id, flavorRef: '1' } },
    });
    assert.equal(refused.status, 403);
    assert.equal(
      refused.body.forbidden.message,
      'Quota exceeded for instances: Requested 1, but already used 1 of 0 instances',
    );

    assert.equal((await c.compute('DELETE', `/os-quota-sets/${m.projectId}`)).status, 202);
    assert.equal(
      (await c.compute('GET', `/os-quota-sets/${m.projectId}`, { token: m.token })).body.quota_set.instances,
      10,
    );
    await deleteAll(m.token);
  });

  it('never lets racing creates exceed the quota', async () => {
    const m = await c.tenant('quota-race');
    await c.compute('PUT', `/os-quota-sets/${m.projectId}`, { body: { quota_set: { instances: 3 } } });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        c.compute('POST', '/servers', {
          token: m.token,
          body: { server: { name: `racer-${i}`, imageRef: c.image.id, flavorRef: '1' } },
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 202).length, 3, statuses.join(' '));
    assert.equal(statuses.filter((s) => s === 403).length, 9, statuses.join(' '));
    assert.equal((await c.compute('GET', '/servers', { token: m.token })).body.servers.length, 3);
    await deleteAll(m.token);
  });

  it('creates as many as fit between min_count and max_count', async () => {
    const m = await c.tenant('quota-minmax');
    await c.compute('PUT', `/os-quota-sets/${m.projectId}`, { body: { quota_set: { instances: 3 } } });
    const res = await c.compute('POST', '/servers', {
      token: m.token,
      body: { server: { name: 'batch', imageRef: c.image.id, flavorRef: '1', min_count: 2, max_count: 5 } },
    });
    assert.equal(res.status, 202, res.text);
    const names = (await c.compute('GET', '/servers', { token: m.token })).body.servers.map((s: any) => s.name).sort();
    assert.deepEqual(names, ['batch-1', 'batch-2', 'batch-3']);
    const none = await c.compute('POST', '/servers', {
      token: m.token,
      body: { server: { name: 'more', imageRef: c.image.id, flavorRef: '1', min_count: 1, max_count: 2 } },
    });
    assert.equal(none.status, 403);
    await deleteAll(m.token);
    // A lone survivor of a multi-create keeps the plain name.
    await c.compute('PUT', `/os-quota-sets/${m.projectId}`, { body: { quota_set: { instances: 1 } } });
    const lone = await c.compute('POST', '/servers', {
      token: m.token,
      body: { server: { name: 'solo', imageRef: c.image.id, flavorRef: '1', min_count: 1, max_count: 4 } },
    });
    assert.equal(lone.status, 202);
    const s = await c.waitStatus(lone.body.server.id, 'ACTIVE', m.token);
    assert.equal(s.name, 'solo');
    await deleteAll(m.token);
  });

  it('counts cores and RAM, and enforces the server group and member quotas', async () => {
    const m = await c.tenant('quota-groups');
    await c.compute('PUT', `/os-quota-sets/${m.projectId}`, {
      body: { quota_set: { cores: 2, server_groups: 1, server_group_members: 1 } },
    });
    const big = await c.compute('POST', '/servers', {
      token: m.token,
      body: { server: { name: 'big', imageRef: c.image.id, flavorRef: '1', max_count: 3, min_count: 3 } },
    });
    assert.equal(big.status, 403);
    assert.equal(big.body.forbidden.message, 'Quota exceeded for cores: Requested 3, but already used 0 of 2 cores');

    const g = await c.compute('POST', '/os-server-groups', {
      token: m.token,
      body: { server_group: { name: 'g', policies: ['affinity'] } },
    });
    assert.equal(g.status, 200);
    const g2 = await c.compute('POST', '/os-server-groups', {
      token: m.token,
      body: { server_group: { name: 'g2', policies: ['affinity'] } },
    });
    assert.equal(g2.status, 403);
    assert.equal(g2.body.forbidden.message, 'Quota exceeded, too many server groups.');
    const gid = g.body.server_group.id;
    const first = await c.createServer('member-1', { token: m.token, hints: { group: gid } });
    const second = await c.compute('POST', '/servers', {
      token: m.token,
      body: {
        server: { name: 'member-2', imageRef: c.image.id, flavorRef: '1' },
        'os:scheduler_hints': { group: gid },
      },
    });
    assert.equal(second.status, 403);
    assert.equal(second.body.forbidden.message, 'Quota exceeded, too many servers in group.');
    const limits = (await c.compute('GET', '/limits', { token: m.token })).body.limits.absolute;
    assert.equal(limits.totalServerGroupsUsed, 1);
    assert.equal(limits.maxServerGroups, 1);
    await c.waitStatus(first, 'ACTIVE', m.token);
    await deleteAll(m.token);
  });
});
