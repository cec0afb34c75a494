// Policy, table-driven: every admin-only operation answers 403 (Nova's or Glance's message) to a
// member and works for an admin; members never see other projects' servers, server groups,
// private images or quotas, nor other users' keypairs; readers read but do not act.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { Cluster, type ApiResponse } from './cluster.js';

interface Case {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** The rule named in Nova's 403 message. */
  rule: string;
}

describe('api-gateway: policy', function () {
  this.timeout(60_000);
  let c: Cluster;
  let member: { projectId: string; userId: string; token: string };
  let other: { projectId: string; userId: string; token: string };
  let serverId: string;

  before(async () => {
    c = await Cluster.start({ nodes: [{}] });
    member = await c.tenant('policy-member');
    other = await c.tenant('policy-other');
    serverId = await c.createServer('members-own', { token: member.token });
    await c.waitStatus(serverId, 'ACTIVE', member.token);
  });
  after(async () => {
    await c?.stop();
  });

  const call = (token: string, k: Case): Promise<ApiResponse> =>
    c.request(k.method, k.path, { token, body: k.body, headers: k.headers });

  it("refuses every admin-only compute operation to members with Nova's 403, and allows it to admins", async () => {
    const v = '/compute/v2.1';
    const cases: Case[] = [
      { method: 'GET', path: `${v}/os-hypervisors`, rule: 'os-hypervisors:list' },
      { method: 'GET', path: `${v}/os-hypervisors/detail`, rule: 'os-hypervisors:list-detail' },
      { method: 'GET', path: `${v}/os-hypervisors/statistics`, rule: 'os-hypervisors:statistics' },
      { method: 'GET', path: `${v}/os-hypervisors/1`, rule: 'os-hypervisors:show' },
      { method: 'GET', path: `${v}/os-services`, rule: 'os-services:list' },
      {
        method: 'PUT',
        path: `${v}/os-services/disable`,
        body: { host: 'node-1', binary: 'nova-compute' },
        rule: 'os-services:update',
      },
      {
        method: 'PUT',
        path: `${v}/os-services/force-down`,
        body: { host: 'node-1', binary: 'nova-compute', forced_down: false },
        headers: { 'X-OpenStack-Nova-API-Version': '2.11' },
        rule: 'os-services:update',
      },
      { method: 'GET', path: `${v}/os-migrations`, rule: 'os-migrations:index' },
      { method: 'GET', path: `${v}/os-availability-zone/detail`, rule: 'os-availability-zone:detail' },
      {
        method: 'POST',
        path: `${v}/flavors`,
        body: { flavor: { name: 'pol', ram: 64, vcpus: 1, disk: 1, id: 'pol' } },
        rule: 'os-flavor-manage:create',
      },
      {
        method: 'POST',
        path: `${v}/flavors/1/os-extra_specs`,
        body: { extra_specs: { k: 'v' } },
        rule: 'os-flavor-extra-specs:create',
      },
      {
        method: 'PUT',
        path: `${v}/flavors/1/os-extra_specs/k`,
        body: { k: 'w' },
        rule: 'os-flavor-extra-specs:update',
      },
      { method: 'DELETE', path: `${v}/flavors/1/os-extra_specs/k`, rule: 'os-flavor-extra-specs:delete' },
      { method: 'DELETE', path: `${v}/flavors/pol`, rule: 'os-flavor-manage:delete' },
      {
        method: 'PUT',
        path: `${v}/os-quota-sets/${member.projectId}`,
        body: { quota_set: { instances: 11 } },
        rule: 'os-quota-sets:update',
      },
      { method: 'DELETE', path: `${v}/os-quota-sets/${member.projectId}`, rule: 'os-quota-sets:delete' },
      { method: 'GET', path: `${v}/servers?all_tenants=1`, rule: 'servers:index:get_all_tenants' },
      { method: 'GET', path: `${v}/servers/detail?all_tenants=1`, rule: 'servers:detail:get_all_tenants' },
      {
        method: 'POST',
        path: `${v}/servers/${serverId}/action`,
        body: { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } },
        rule: 'os-migrate-server:migrate_live',
      },
    ];
    for (const k of cases) {
      const res = await call(member.token, k);
      assert.equal(res.status, 403, `${k.method} ${k.path}: ${res.text}`);
      assert.deepEqual(res.body, {
        forbidden: { code: 403, message: `Policy doesn't allow os_compute_api:${k.rule} to be performed.` },
      });
    }
    for (const k of cases) {
      const res = await call(c.adminToken, k);
      // Past the policy, this live migration fails its precheck: the disks are not on shared storage.
      const expected = k.rule === 'os-migrate-server:migrate_live' ? 400 : undefined;
      if (expected) assert.equal(res.status, expected, `${k.path}: ${res.text}`);
      else
        assert.ok(res.status >= 200 && res.status < 300, `${k.method} ${k.path} as admin: ${res.status} ${res.text}`);
    }
  });

  it('keeps projects apart: servers, server groups, quotas, images and keypairs', async () => {
    const group = await c.compute('POST', '/os-server-groups', {
      token: member.token,
      body: { server_group: { name: 'mine', policies: ['affinity'] } },
    });
    const gid = group.body.server_group.id;
    await c.compute('POST', '/os-keypairs', { token: member.token, body: { keypair: { name: 'secret-key' } } });
    const image = await c.request('POST', '/image/v2/images', {
      token: member.token,
      body: { name: 'private-img', visibility: 'private' },
    });
    const imageId = image.body.id;

    // What the other project's member sees of all that: nothing.
    const t = other.token;
    assert.deepEqual((await c.compute('GET', '/servers/detail', { token: t })).body.servers, []);
    assert.equal((await c.compute('GET', `/servers/${serverId}`, { token: t })).status, 404);
    assert.equal((await c.compute('GET', `/servers/${serverId}/os-instance-actions`, { token: t })).status, 404);
    assert.equal(
      (await c.compute('POST', `/servers/${serverId}/action`, { token: t, body: { 'os-getConsoleOutput': null } }))
        .status,
      404,
    );
    assert.equal(
      (await c.compute('PUT', `/servers/${serverId}`, { token: t, body: { server: { name: 'stolen' } } })).status,
      404,
    );
    assert.equal((await c.compute('DELETE', `/servers/${serverId}`, { token: t })).status, 404);
    assert.deepEqual((await c.compute('GET', '/os-server-groups', { token: t })).body.server_groups, []);
    assert.equal((await c.compute('GET', `/os-server-groups/${gid}`, { token: t })).status, 404);
    assert.equal((await c.compute('GET', `/os-quota-sets/${member.projectId}`, { token: t })).status, 403);
    assert.deepEqual((await c.compute('GET', '/os-keypairs', { token: t })).body.keypairs, []);
    assert.equal((await c.compute('GET', '/os-keypairs/secret-key', { token: t })).status, 404);
    const images = (await c.request('GET', '/image/v2/images', { token: t })).body.images.map((i: any) => i.id);
    assert.ok(!images.includes(imageId));
    assert.equal((await c.request('GET', `/image/v2/images/${imageId}`, { token: t })).status, 404);
    assert.equal((await c.request('GET', `/image/v2/images/${imageId}/file`, { token: t })).status, 404);
    assert.ok(!(await c.compute('GET', '/images', { token: t })).body.images.some((i: any) => i.id === imageId));
    // Nor can they boot from the other project's private image.
    const boot = await c.compute('POST', '/servers', {
      token: t,
      body: { server: { name: 'x', imageRef: imageId, flavorRef: '1' } },
    });
    assert.equal(boot.status, 400);

    // Admins see it all.
    assert.equal((await c.compute('GET', `/servers/${serverId}`)).status, 200);
    assert.equal((await c.request('GET', `/image/v2/images/${imageId}`, { token: c.adminToken })).status, 200);
  });

  it('lets readers read but not act', async () => {
    const reader = await c.tenant('policy-reader', 'reader');
    const t = reader.token;
    assert.equal((await c.compute('GET', '/servers', { token: t })).status, 200);
    assert.equal((await c.compute('GET', '/flavors', { token: t })).status, 200);
    assert.equal((await c.request('GET', '/image/v2/images', { token: t })).status, 200);
    const create = await c.compute('POST', '/servers', {
      token: t,
      body: { server: { name: 'x', imageRef: c.image.id, flavorRef: '1' } },
    });
    assert.equal(create.status, 403);
    assert.equal(create.body.forbidden.message, "Policy doesn't allow os_compute_api:servers:create to be performed.");
    const image = await c.request('POST', '/image/v2/images', { token: t, body: { name: 'x' } });
    assert.equal(image.status, 403);
    assert.equal(image.body.message, 'You are not authorized to complete add_image action.');
    const group = await c.compute('POST', '/os-server-groups', {
      token: t,
      body: { server_group: { name: 'x', policies: ['affinity'] } },
    });
    assert.equal(group.status, 403);
  });
});
