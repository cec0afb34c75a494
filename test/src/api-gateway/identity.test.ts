// Keystone v3 against real Redis: discovery, password tokens with the catalog the clients need,
// validation, expiry, forged tokens, the admin CRUD API and role-based access.
/* eslint-disable @typescript-eslint/no-explicit-any -- API bodies are checked field by field */
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, Cluster, passwordAuth } from './cluster.js';
import { credentialsEnv } from '../harness/index.js';

describe('api-gateway: identity (Keystone v3)', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start();
  });
  after(async () => {
    await c?.stop();
  });

  it('serves the v3 discovery document and the 300 versions list', async () => {
    const v3 = await c.request('GET', '/identity/v3');
    assert.equal(v3.status, 200);
    assert.equal(v3.body.version.id, 'v3.14');
    assert.equal(v3.body.version.status, 'stable');
    assert.equal(v3.body.version.links[0].href, `${c.gateway.url}/identity/v3/`);
    assert.equal(v3.body.version['media-types'][0].type, 'application/vnd.openstack.identity-v3+json');
    const root = await c.request('GET', '/identity/');
    assert.equal(root.status, 300);
    assert.deepEqual(root.body.versions.values[0], v3.body.version);
  });

  it('issues a project-scoped token with roles and a catalog of compute, image, network and identity', async () => {
    const res = await c.request('POST', '/identity/v3/auth/tokens', {
      body: passwordAuth('admin', ADMIN_PASSWORD, 'admin'),
    });
    assert.equal(res.status, 201);
    assert.ok(res.headers.get('x-subject-token'));
    const t = res.body.token;
    assert.deepEqual(t.methods, ['password']);
    assert.equal(t.user.name, 'admin');
    assert.deepEqual(t.user.domain, { id: 'default', name: 'Default' });
    assert.equal(t.project.name, 'admin');
    assert.deepEqual(t.project.domain, { id: 'default', name: 'Default' });
    assert.deepEqual(t.roles.map((r: any) => r.name).sort(), ['admin', 'member', 'reader']);
    assert.match(t.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const byType = Object.fromEntries(t.catalog.map((s: any) => [s.type, s]));
    assert.deepEqual(Object.keys(byType).sort(), ['compute', 'identity', 'image', 'network']);
    const pub = (type: string) => byType[type].endpoints.find((e: any) => e.interface === 'public');
    assert.equal(pub('compute').url, `${c.gateway.url}/compute/v2.1`);
    assert.equal(pub('image').url, `${c.gateway.url}/image`);
    assert.equal(pub('network').url, `${c.gateway.url}/networking`);
    assert.equal(pub('identity').url, `${c.gateway.url}/identity`);
    for (const s of t.catalog)
      for (const e of s.endpoints) assert.ok(e.region === 'RegionOne' && e.region_id === 'RegionOne');
  });

  it('accepts users and projects by id and domains by name, as Tempest sends them', async () => {
    const tok = await c.request('GET', '/identity/v3/auth/tokens', {
      token: c.adminToken,
      headers: { 'x-subject-token': c.adminToken },
    });
    const { user, project } = tok.body.token;
    const res = await c.request('POST', '/identity/v3/auth/tokens', {
      body: {
        auth: {
          identity: { methods: ['password'], password: { user: { id: user.id, password: ADMIN_PASSWORD } } },
          scope: { project: { id: project.id } },
        },
      },
    });
    assert.equal(res.status, 201);
    const byName = await c.request('POST', '/identity/v3/auth/tokens', {
      body: {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: 'admin', password: ADMIN_PASSWORD, domain: { name: 'Default' } } },
          },
          scope: { project: { name: 'admin', domain: { name: 'Default' } } },
        },
      },
    });
    assert.equal(byName.status, 201);
  });

  it("refuses a wrong password with Keystone's 401 body", async () => {
    const res = await c.request('POST', '/identity/v3/auth/tokens', { body: passwordAuth('admin', 'wrong', 'admin') });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, {
      error: { code: 401, title: 'Unauthorized', message: 'The request you have made requires authentication.' },
    });
    const nobody = await c.request('POST', '/identity/v3/auth/tokens', { body: passwordAuth('nobody', 'x', 'admin') });
    assert.equal(nobody.status, 401);
  });

  it('validates tokens with GET and HEAD, and answers 404 for an unknown subject', async () => {
    const get = await c.request('GET', '/identity/v3/auth/tokens', {
      token: c.adminToken,
      headers: { 'x-subject-token': c.adminToken },
    });
    assert.equal(get.status, 200);
    assert.equal(get.body.token.project.name, 'admin');
    const head = await c.request('HEAD', '/identity/v3/auth/tokens', {
      token: c.adminToken,
      headers: { 'x-subject-token': c.adminToken },
    });
    assert.equal(head.status, 200);
    const bad = await c.request('GET', '/identity/v3/auth/tokens', {
      token: c.adminToken,
      headers: { 'x-subject-token': 'forged' },
    });
    assert.equal(bad.status, 404);
    assert.equal(bad.body.error.code, 404);
  });

  it('answers 401 for a missing or forged token on every API', async () => {
    for (const path of ['/identity/v3/projects', '/compute/v2.1/servers', '/compute/v2.1/flavors']) {
      for (const token of [undefined, 'forged-token', 'x'.repeat(600)]) {
        const res = await c.request('GET', path, { token });
        assert.equal(res.status, 401, `${path} ${token}`);
        assert.equal(res.body.error.code, 401);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Keystone uri=/);
      }
    }
  });

  it('revokes a token with DELETE /auth/tokens', async () => {
    const t = await c.token('admin', ADMIN_PASSWORD, 'admin');
    const del = await c.request('DELETE', '/identity/v3/auth/tokens', {
      token: c.adminToken,
      headers: { 'x-subject-token': t },
    });
    assert.equal(del.status, 204);
    assert.equal((await c.compute('GET', '/servers', { token: t })).status, 401);
  });

  it('lets tokens expire', async () => {
    // A second gateway on the same Redis issuing one-second tokens.
    const { gatewaySettings, startGateway } = await import('@hypernova/api-gateway');
    const { createLogger, loadConfig } = await import('@hypernova/common');
    const short = await startGateway(
      loadConfig(gatewaySettings, {
        REDIS_URL: c.infra.redis.url,
        NATS_URL: c.infra.nats.url,
        API_PORT: '0',
        HYPERNOVA_ADMIN_PASSWORD: ADMIN_PASSWORD,
        HYPERNOVA_TOKEN_TTL_S: '1',
        ...credentialsEnv('gateway'),
      }),
      createLogger('api-gateway', { level: 'silent' }),
    );
    try {
      const res = await fetch(`${short.url}/identity/v3/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(passwordAuth('admin', ADMIN_PASSWORD, 'admin')),
      });
      const token = res.headers.get('x-subject-token') as string;
      assert.equal((await c.compute('GET', '/servers', { token })).status, 200);
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal((await c.compute('GET', '/servers', { token })).status, 401);
    } finally {
      await short.close();
    }
  });

  it('creates, lists, shows and deletes projects, users and roles; grants roles', async () => {
    const t = c.adminToken;
    const p = await c.request('POST', '/identity/v3/projects', {
      token: t,
      body: { project: { name: 'crud', domain_id: 'default', enabled: true } },
    });
    assert.equal(p.status, 201);
    assert.equal(p.body.project.name, 'crud');
    const dup = await c.request('POST', '/identity/v3/projects', { token: t, body: { project: { name: 'crud' } } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.error.code, 409);
    const list = await c.request('GET', '/identity/v3/projects?name=crud', { token: t });
    assert.deepEqual(
      list.body.projects.map((x: any) => x.id),
      [p.body.project.id],
    );
    const u = await c.request('POST', '/identity/v3/users', {
      token: t,
      body: { user: { name: 'crud-user', password: 'pw', default_project_id: p.body.project.id } },
    });
    assert.equal(u.status, 201);
    assert.equal(u.body.user.password, undefined);
    const r = await c.request('POST', '/identity/v3/roles', { token: t, body: { role: { name: 'observer' } } });
    assert.equal(r.status, 201);
    const grant = `/identity/v3/projects/${p.body.project.id}/users/${u.body.user.id}/roles/${r.body.role.id}`;
    assert.equal((await c.request('PUT', grant, { token: t })).status, 204);
    assert.equal((await c.request('HEAD', grant, { token: t })).status, 204);
    const assignments = await c.request(
      'GET',
      `/identity/v3/role_assignments?user.id=${u.body.user.id}&include_names=1`,
      { token: t },
    );
    assert.deepEqual(
      assignments.body.role_assignments.map((a: any) => [a.role.name, a.scope.project.name]),
      [['observer', 'crud']],
    );
    assert.equal((await c.request('DELETE', grant, { token: t })).status, 204);
    assert.equal((await c.request('HEAD', grant, { token: t })).status, 404);
    for (const path of [
      `/identity/v3/users/${u.body.user.id}`,
      `/identity/v3/roles/${r.body.role.id}`,
      `/identity/v3/projects/${p.body.project.id}`,
    ]) {
      assert.equal((await c.request('DELETE', path, { token: t })).status, 204);
      const gone = await c.request('GET', path, { token: t });
      assert.equal(gone.status, 404);
      assert.match(gone.body.error.message, /^Could not find /);
    }
    const domains = await c.request('GET', '/identity/v3/domains?name=Default', { token: t });
    assert.equal(domains.body.domains[0].id, 'default');
  });

  it('gives members 403 on the admin API, and role changes take effect on existing tokens', async () => {
    const m = await c.tenant('ident-member');
    const res = await c.request('POST', '/identity/v3/projects', {
      token: m.token,
      body: { project: { name: 'nope' } },
    });
    assert.equal(res.status, 403);
    assert.equal(
      res.body.error.message,
      'You are not authorized to perform the requested action: identity:create_project.',
    );
    assert.equal((await c.compute('GET', '/servers', { token: m.token })).status, 200);
    // Members read their own project and themselves (Keystone's default policy), nothing else.
    assert.equal((await c.request('GET', `/identity/v3/projects/${m.projectId}`, { token: m.token })).status, 200);
    assert.equal((await c.request('GET', `/identity/v3/users/${m.userId}`, { token: m.token })).status, 200);
    const other = await c.tenant('ident-other');
    assert.equal((await c.request('GET', `/identity/v3/projects/${other.projectId}`, { token: m.token })).status, 403);
    assert.equal((await c.request('GET', `/identity/v3/users/${other.userId}`, { token: m.token })).status, 403);
    assert.equal((await c.request('GET', '/identity/v3/projects/nope', { token: m.token })).status, 403);
    // Revoke the member's only role: the token no longer stands for anything.
    const roles = await c.request('GET', `/identity/v3/projects/${m.projectId}/users/${m.userId}/roles`, {
      token: c.adminToken,
    });
    await c.request(
      'DELETE',
      `/identity/v3/projects/${m.projectId}/users/${m.userId}/roles/${roles.body.roles[0].id}`,
      { token: c.adminToken },
    );
    assert.equal((await c.compute('GET', '/servers', { token: m.token })).status, 401);
    const again = await c.request('POST', '/identity/v3/auth/tokens', {
      body: passwordAuth('ident-member-user', 'ident-member-pw', 'ident-member'),
    });
    assert.equal(again.status, 401);
  });
});
