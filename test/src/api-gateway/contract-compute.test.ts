// Contract: every response shape the compute API serves, at every microversion it advertises
// (2.1 to 2.25), checked against the schemas of contract/nova.ts, each schema also shown to
// reject wrong shapes of the very body it accepted.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are read field by field */
import assert from 'node:assert/strict';
import { Cluster, type ApiResponse, type RequestOptions } from './cluster.js';
import * as nova from './contract/nova.js';
import { expectShape } from './contract/expect.js';
import { problems, type Schema } from './contract/schema.js';

const MAX_MINOR = 25;

describe('contract: Nova compute responses at every advertised microversion', function () {
  this.timeout(120_000);
  let c: Cluster;
  let member: { projectId: string; userId: string; token: string };
  let serverId: string;
  let memberServer: string;
  let publicKey: string;

  before(async () => {
    c = await Cluster.start({
      nodes: [
        { vcpus: 32, ramMb: 8192 },
        { vcpus: 32, ramMb: 8192, availabilityZone: 'az2' },
      ],
      // Every microversion's pass creates servers: room for all of them.
      env: { HYPERNOVA_QUOTA_INSTANCES: '100', HYPERNOVA_QUOTA_CORES: '100' },
    });
    member = await c.tenant('contract-member');
    serverId = await c.createServer('contract-vm', {
      extra: { metadata: { purpose: 'contract' }, accessIPv4: '10.1.2.3' },
    });
    memberServer = await c.createServer('member-vm', { token: member.token });
    await c.waitStatus(serverId, 'ACTIVE');
    await c.waitStatus(memberServer, 'ACTIVE', member.token);
    publicKey = (await c.compute('POST', '/os-keypairs', { body: { keypair: { name: 'contract-seed' } } })).body.keypair
      .public_key;
    // An errored server, so the fault shape is covered too.
    c.nodes.forEach((n) => (n.failSpawn = 'contract: spawn refused'));
    const failed = await c.createServer('contract-failed');
    await c.waitStatus(failed, 'ERROR');
    c.nodes.forEach((n) => (n.failSpawn = undefined));
  });
  after(async () => {
    await c?.stop();
  });

  it('serves the version documents', async () => {
    check(await c.request('GET', '/compute'), 200, nova.versionsList, 'GET /compute');
    check(await c.request('GET', '/compute/v2'), 200, nova.versionDocument, 'GET /compute/v2');
    const doc = check(await c.request('GET', '/compute/v2.1'), 200, nova.versionDocument, 'GET /compute/v2.1');
    assert.equal(doc.version.version, `2.${MAX_MINOR}`);
  });

  /** expectShape, and the negotiated version echoed with a request id. */
  function check(res: ApiResponse, status: number, schema: Schema, what: string, minor?: number): any {
    if (minor !== undefined) {
      assert.equal(res.headers.get('x-openstack-nova-api-version'), `2.${minor}`, what);
      assert.equal(res.headers.get('openstack-api-version'), `compute 2.${minor}`, what);
      assert.match(res.headers.get('x-compute-request-id') ?? '', /^req-/, what);
    }
    return expectShape(res, status, schema, what);
  }

  for (let minor = 1; minor <= MAX_MINOR; minor++) {
    it(`2.${minor}: every response shape`, async () => {
      const headers = { 'X-OpenStack-Nova-API-Version': `2.${minor}` };
      const call = (method: string, path: string, opts: RequestOptions = {}) =>
        c.compute(method, path, { ...opts, headers: { ...headers, ...opts.headers } });
      const as =
        (token: string) =>
        (method: string, path: string, opts: RequestOptions = {}) =>
          call(method, path, { ...opts, token });
      const ok = async (method: string, path: string, status: number, schema: Schema, opts: RequestOptions = {}) =>
        check(await call(method, path, opts), status, schema, `2.${minor} ${method} ${path}`, minor);
      const empty = async (method: string, path: string, status: number, opts: RequestOptions = {}) => {
        const res = await call(method, path, opts);
        assert.equal(res.status, status, `2.${minor} ${method} ${path}: ${res.text}`);
        assert.equal(res.text, '', `2.${minor} ${method} ${path} has no body`);
      };

      // Servers: create (and with a reservation id), list, detail, show (admin and member), update, actions, delete.
      // 2.19: a description (only from 2.19; absent, it shows as null).
      const described = minor >= 19 ? { description: `server of 2.${minor}` } : {};
      const created = await ok('POST', '/servers', 202, nova.serverCreate, {
        body: { server: { name: `v${minor}`, imageRef: c.image.id, flavorRef: '1', ...described } },
      });
      const id = created.server.id;
      if (minor < 19) {
        const res = await call('POST', '/servers', {
          body: { server: { name: 'd', imageRef: c.image.id, flavorRef: '1', description: 'd' } },
        });
        check(res, 400, nova.fault(400), `2.${minor} create with a description`, minor);
      }
      await ok('POST', '/servers', 202, nova.reservation, {
        body: { server: { name: `r${minor}`, imageRef: c.image.id, flavorRef: '1', return_reservation_id: true } },
      });
      await ok('GET', '/servers', 200, nova.serverList);
      await ok('GET', '/servers?limit=1', 200, nova.serverList);
      const detail = await ok('GET', '/servers/detail', 200, nova.serverListDetail(minor, true));
      assert.ok(
        detail.servers.some((s: any) => s.status === 'ERROR' && s.fault),
        'the fault shape is covered',
      );
      await ok('GET', '/servers/detail?limit=1', 200, nova.serverListDetail(minor, true));
      const shown = await ok('GET', `/servers/${serverId}`, 200, nova.serverShow(minor, true));
      if (minor >= 16) assert.equal(shown.server.host_status, 'UP', 'an up, enabled host');
      if (minor === 19)
        assert.equal(shown.server.description, 'contract-vm', 'created below 2.19: the description is the name');
      check(
        await as(member.token)('GET', `/servers/${memberServer}`),
        200,
        nova.serverShow(minor, false),
        `2.${minor} member show`,
        minor,
      );
      check(
        await as(member.token)('GET', '/servers/detail'),
        200,
        nova.serverListDetail(minor, false),
        `2.${minor} member detail`,
        minor,
      );
      const updated = await ok('PUT', `/servers/${serverId}`, 200, nova.serverUpdate(minor), {
        body: { server: { name: 'contract-vm', ...described } },
      });
      if (minor >= 19) assert.equal(updated.server.description, `server of 2.${minor}`);
      else
        check(
          await call('PUT', `/servers/${serverId}`, { body: { server: { description: 'd' } } }),
          400,
          nova.fault(400),
          `2.${minor} update with a description`,
          minor,
        );
      await c.waitStatus(id, 'ACTIVE');
      if (minor >= 19)
        assert.equal(
          (await ok('GET', `/servers/${id}`, 200, nova.serverShow(minor, true))).server.description,
          `server of 2.${minor}`,
        );
      // 2.17: trigger_crash_dump exists, and Hypernova's nodes cannot: 400 either way, with different messages.
      const dump = check(
        await call('POST', `/servers/${id}/action`, { body: { trigger_crash_dump: null } }),
        400,
        nova.fault(400),
        `2.${minor} trigger_crash_dump`,
        minor,
      );
      assert.equal(
        dump.badRequest.message,
        minor >= 17 ? 'Triggering crash dump is not supported' : 'There is no such action: trigger_crash_dump',
      );
      await ok('POST', `/servers/${id}/action`, 200, nova.consoleOutput, {
        body: { 'os-getConsoleOutput': { length: 2 } },
      });
      await empty('POST', `/servers/${id}/action`, 202, { body: { 'os-stop': null } });
      await c.waitStatus(id, 'SHUTOFF');
      if (minor >= 17)
        check(
          await call('POST', `/servers/${id}/action`, { body: { trigger_crash_dump: null } }),
          409,
          nova.fault(409),
          `2.${minor} crash dump of a stopped server`,
          minor,
        );

      // Instance actions (events for admins only).
      const actions = await ok('GET', `/servers/${id}/os-instance-actions`, 200, nova.instanceActions);
      const req = actions.instanceActions[0].request_id;
      await ok('GET', `/servers/${id}/os-instance-actions/${req}`, 200, nova.instanceAction(true));
      const [mine] = (await as(member.token)('GET', `/servers/${memberServer}/os-instance-actions`)).body
        .instanceActions;
      check(
        await as(member.token)('GET', `/servers/${memberServer}/os-instance-actions/${mine.request_id}`),
        200,
        nova.instanceAction(false),
        'member action',
        minor,
      );
      await empty('DELETE', `/servers/${id}`, 204);
      // 2.21: a deleted server's actions stay readable.
      await c.waitServer(id, 'gone');
      if (minor >= 21) {
        const after = await ok('GET', `/servers/${id}/os-instance-actions`, 200, nova.instanceActions);
        assert.deepEqual(
          after.instanceActions.map((a: any) => a.action),
          ['delete', 'stop', 'create'],
        );
        await ok(
          'GET',
          `/servers/${id}/os-instance-actions/${after.instanceActions[0].request_id}`,
          200,
          nova.instanceAction(true),
        );
      } else {
        check(
          await call('GET', `/servers/${id}/os-instance-actions`),
          404,
          nova.fault(404),
          `2.${minor} actions of a deleted server`,
          minor,
        );
      }

      // Flavors and extra specs.
      await ok('GET', '/flavors', 200, nova.flavorList);
      await ok('GET', '/flavors?limit=2', 200, nova.flavorList);
      await ok('GET', '/flavors/detail', 200, nova.flavorListDetail);
      await ok('GET', '/flavors/1', 200, nova.flavorShow);
      await ok('POST', '/flavors', 200, nova.flavorShow, {
        body: { flavor: { name: `f${minor}`, ram: 64, vcpus: 1, disk: 1, id: `f${minor}`, swap: 16 } },
      });
      await ok('POST', `/flavors/f${minor}/os-extra_specs`, 200, nova.extraSpecs, {
        body: { extra_specs: { 'hw:a': '1', 'hw:b': '2' } },
      });
      await ok('GET', `/flavors/f${minor}/os-extra_specs`, 200, nova.extraSpecs);
      await ok('GET', `/flavors/f${minor}/os-extra_specs/hw:a`, 200, nova.extraSpec);
      await ok('PUT', `/flavors/f${minor}/os-extra_specs/hw:a`, 200, nova.extraSpec, { body: { 'hw:a': '3' } });
      await empty('DELETE', `/flavors/f${minor}/os-extra_specs/hw:b`, 200);
      await empty('DELETE', `/flavors/f${minor}`, 202);

      // Hypervisors and services.
      await ok('GET', '/os-hypervisors', 200, nova.hypervisorList);
      const hyps = await ok('GET', '/os-hypervisors/detail', 200, nova.hypervisorListDetail);
      await ok('GET', `/os-hypervisors/${hyps.hypervisors[0].id}`, 200, nova.hypervisorShow);
      await ok('GET', '/os-hypervisors/statistics', 200, nova.hypervisorStatistics);
      await ok('GET', '/os-services', 200, nova.serviceList(minor));
      await ok('PUT', '/os-services/disable', 200, nova.serviceUpdate, {
        body: { host: 'node-2', binary: 'nova-compute' },
      });
      await ok('PUT', '/os-services/disable-log-reason', 200, nova.serviceUpdate, {
        body: { host: 'node-2', binary: 'nova-compute', disabled_reason: 'contract' },
      });
      await ok('PUT', '/os-services/enable', 200, nova.serviceUpdate, {
        body: { host: 'node-2', binary: 'nova-compute' },
      });
      const forceDown = { body: { host: 'node-2', binary: 'nova-compute', forced_down: false } };
      if (minor >= 11) await ok('PUT', '/os-services/force-down', 200, nova.serviceForceDown, forceDown);
      else
        check(
          await call('PUT', '/os-services/force-down', forceDown),
          404,
          nova.fault(404),
          `2.${minor} force-down`,
          minor,
        );

      // Images proxy.
      await ok('GET', '/images', 200, nova.imageList);
      await ok('GET', '/images?limit=1', 200, nova.imageList);
      await ok('GET', '/images/detail', 200, nova.imageListDetail);
      await ok('GET', `/images/${c.image.id}`, 200, nova.imageShow);

      // Limits, quotas, zones, migrations.
      await ok('GET', '/limits', 200, nova.limits);
      await ok('GET', `/os-quota-sets/${member.projectId}`, 200, nova.quotaSet);
      await ok('GET', `/os-quota-sets/${member.projectId}/defaults`, 200, nova.quotaSet);
      await ok('GET', `/os-quota-sets/${member.projectId}/detail`, 200, nova.quotaSetDetail);
      await ok('PUT', `/os-quota-sets/${member.projectId}`, 200, nova.quotaSetUpdate, {
        body: { quota_set: { instances: 20 } },
      });
      await empty('DELETE', `/os-quota-sets/${member.projectId}`, 202);
      await ok('GET', '/os-availability-zone', 200, nova.availabilityZones);
      await ok('GET', '/os-availability-zone/detail', 200, nova.availabilityZonesDetail);
      await ok('GET', '/os-migrations', 200, nova.migrations(minor));

      // Live migration: 2.22 force_complete, 2.23 the server's migrations and os-migrations'
      // new keys, 2.24 abort, 2.25 block_migration "auto" without disk_over_commit.
      if (minor >= 21) {
        const lm = await c.createServer(`lm${minor}`);
        await c.waitStatus(lm, 'ACTIVE');
        c.nodes.forEach((n) => (n.migrateMs = 60_000));
        const live =
          minor >= 25
            ? { host: null, block_migration: 'auto' }
            : { host: null, block_migration: true, disk_over_commit: false };
        await empty('POST', `/servers/${lm}/action`, 202, { body: { 'os-migrateLive': live } });
        let running: any;
        while (!(running = (await call('GET', `/os-migrations?instance_uuid=${lm}&status=running`)).body.migrations[0]))
          await new Promise((r) => setTimeout(r, 50));
        const listed = await ok('GET', `/os-migrations?instance_uuid=${lm}`, 200, nova.migrations(minor));
        assert.equal(listed.migrations.length, 1);
        if (minor >= 23) {
          assert.equal(listed.migrations[0].links.length, 2, 'an in-progress live migration has links');
          await ok('GET', `/servers/${lm}/migrations`, 200, nova.serverMigrationList);
          await ok('GET', `/servers/${lm}/migrations/${running.id}`, 200, nova.serverMigrationShow);
        } else {
          check(
            await call('GET', `/servers/${lm}/migrations`),
            404,
            nova.fault(404),
            `2.${minor} server migrations`,
            minor,
          );
        }
        const force = { body: { force_complete: null } };
        if (minor >= 24) await empty('DELETE', `/servers/${lm}/migrations/${running.id}`, 202);
        else if (minor >= 22) await empty('POST', `/servers/${lm}/migrations/${running.id}/action`, 202, force);
        else {
          check(
            await call('POST', `/servers/${lm}/migrations/${running.id}/action`, force),
            404,
            nova.fault(404),
            `2.${minor} force_complete`,
            minor,
          );
          c.nodes.find((n) => n.name === running.source_compute)?.endMigration(lm, 'forced');
        }
        c.nodes.forEach((n) => (n.migrateMs = 0));
        await c.waitStatus(lm, 'ACTIVE');
        await ok('GET', `/os-migrations?instance_uuid=${lm}`, 200, nova.migrations(minor));
        if (minor >= 23)
          check(
            await call('GET', `/servers/${lm}/migrations/${running.id}`),
            404,
            nova.fault(404),
            `2.${minor} finished migration`,
            minor,
          );
        await empty('DELETE', `/servers/${lm}`, 204);
      }

      // Server groups.
      const group = await ok('POST', '/os-server-groups', 200, nova.serverGroupShow(minor), {
        body: { server_group: { name: `g${minor}`, policies: ['anti-affinity'] } },
      });
      // 2.15: the soft policies.
      const soft = { body: { server_group: { name: `s${minor}`, policies: ['soft-anti-affinity'] } } };
      const softGroup =
        minor >= 15 ? await ok('POST', '/os-server-groups', 200, nova.serverGroupShow(minor), soft) : undefined;
      if (minor < 15)
        check(await call('POST', '/os-server-groups', soft), 400, nova.fault(400), `2.${minor} soft policy`, minor);
      await ok('GET', '/os-server-groups', 200, nova.serverGroupList(minor));
      await ok('GET', `/os-server-groups/${group.server_group.id}`, 200, nova.serverGroupShow(minor));
      await empty('DELETE', `/os-server-groups/${group.server_group.id}`, 204);
      if (softGroup) await empty('DELETE', `/os-server-groups/${softGroup.server_group.id}`, 204);

      // Keypairs: 2.2 moves create to 201 and delete to 204.
      await ok('POST', '/os-keypairs', minor >= 2 ? 201 : 200, nova.keypairCreate(minor), {
        body: { keypair: { name: `gen${minor}` } },
      });
      await ok('POST', '/os-keypairs', minor >= 2 ? 201 : 200, nova.keypairCreate(minor), {
        body: { keypair: { name: `imp${minor}`, public_key: publicKey } },
      });
      await ok('GET', '/os-keypairs', 200, nova.keypairList(minor));
      await ok('GET', `/os-keypairs/gen${minor}`, 200, nova.keypairShow(minor));
      await empty('DELETE', `/os-keypairs/gen${minor}`, minor >= 2 ? 204 : 202);
      await empty('DELETE', `/os-keypairs/imp${minor}`, minor >= 2 ? 204 : 202);

      // Errors, in Nova's fault format.
      check(await call('GET', '/servers/00000000-0000-0000-0000-000000000000'), 404, nova.fault(404), '404', minor);
      check(await call('POST', '/servers', { body: { server: {} } }), 400, nova.fault(400), '400', minor);
      check(await as(member.token)('GET', '/os-hypervisors'), 403, nova.fault(403), '403', minor);
      check(
        await call('POST', `/servers/${serverId}/action`, { body: { 'os-start': null } }),
        409,
        nova.fault(409),
        '409',
        minor,
      );
      check(
        await call('POST', `/servers/${serverId}/action`, {
          body: { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } },
        }),
        400,
        nova.fault(400),
        '400',
        minor,
      );
    });
  }

  it('tells microversions apart: a body of one version fails the schema of another', async () => {
    const at = (v: string) => ({ headers: { 'X-OpenStack-Nova-API-Version': v } });
    const [s21, s29] = await Promise.all([
      c.compute('GET', `/servers/${serverId}`, at('2.1')),
      c.compute('GET', `/servers/${serverId}`, at('2.9')),
    ]);
    assert.notDeepEqual(problems(nova.serverShow(9, true), s21.body), [], 'a 2.1 server lacks 2.3/2.9 keys');
    assert.notDeepEqual(problems(nova.serverShow(1, true), s29.body), [], 'a 2.9 server has keys 2.1 does not');
    assert.notDeepEqual(problems(nova.serverShow(1, false), s21.body), [], 'an admin body is not a member body');
    const [k1, k2] = await Promise.all([
      c.compute('GET', '/os-keypairs', at('2.1')),
      c.compute('GET', '/os-keypairs', at('2.2')),
    ]);
    assert.notDeepEqual(problems(nova.keypairList(2), k1.body), []);
    assert.notDeepEqual(problems(nova.keypairList(1), k2.body), []);
    const [v1, v11] = await Promise.all([
      c.compute('GET', '/os-services', at('2.1')),
      c.compute('GET', '/os-services', at('2.11')),
    ]);
    assert.notDeepEqual(problems(nova.serviceList(11), v1.body), []);
    assert.notDeepEqual(problems(nova.serviceList(1), v11.body), []);
    // 2.16 host_status, 2.19 description.
    const [s15, s16, s18, s19] = await Promise.all(
      ['2.15', '2.16', '2.18', '2.19'].map((v) => c.compute('GET', `/servers/${serverId}`, at(v))),
    );
    assert.notDeepEqual(problems(nova.serverShow(16, true), s15.body), [], 'a 2.15 server has no host_status');
    assert.notDeepEqual(problems(nova.serverShow(15, true), s16.body), [], 'a 2.16 server has host_status');
    assert.notDeepEqual(problems(nova.serverShow(19, true), s18.body), [], 'a 2.18 server has no description');
    assert.notDeepEqual(problems(nova.serverShow(18, true), s19.body), [], 'a 2.19 server has a description');
    const [u18, u19] = await Promise.all(
      ['2.18', '2.19'].map((v) =>
        c.compute('PUT', `/servers/${serverId}`, { ...at(v), body: { server: { name: 'contract-vm' } } }),
      ),
    );
    assert.notDeepEqual(problems(nova.serverUpdate(19), u18.body), []);
    assert.notDeepEqual(problems(nova.serverUpdate(18), u19.body), []);
    // 2.13 project_id and user_id of server groups, 2.15 soft policies.
    const g = await c.compute('POST', '/os-server-groups', {
      ...at('2.15'),
      body: { server_group: { name: 'apart', policies: ['soft-affinity'] } },
    });
    const [g12, g13] = await Promise.all(
      ['2.12', '2.13'].map((v) => c.compute('GET', `/os-server-groups/${g.body.server_group.id}`, at(v))),
    );
    assert.notDeepEqual(problems(nova.serverGroupShow(13), g12.body), [], 'a 2.12 group has no project_id/user_id');
    assert.notDeepEqual(problems(nova.serverGroupShow(12), g13.body), [], 'a 2.13 group has project_id/user_id');
    assert.notDeepEqual(problems(nova.serverGroupShow(14), g.body), [], 'soft-affinity is not a policy before 2.15');
    await c.compute('DELETE', `/os-server-groups/${g.body.server_group.id}`);
  });

  it(`answers versions outside 2.1..2.${MAX_MINOR} with Nova's 406`, async () => {
    for (const v of ['2.0', `2.${MAX_MINOR + 1}`, '3.0']) {
      const res = await c.compute('GET', '/servers', { headers: { 'X-OpenStack-Nova-API-Version': v } });
      check(res, 406, nova.fault(406), `version ${v}`);
      assert.equal(
        res.body.computeFault.message,
        `Version ${v} is not supported by the API. Minimum is 2.1 and maximum is 2.${MAX_MINOR}.`,
      );
    }
  });
});
