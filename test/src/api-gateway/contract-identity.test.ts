// Contract: the Keystone v3 responses (discovery, tokens and their catalog, the admin resources,
// role assignments, errors) against the schemas of contract/keystone.ts, each schema also shown
// to reject wrong shapes of the body it accepted.
import assert from 'node:assert/strict';
import { Cluster, passwordAuth } from './cluster.js';
import { expectShape } from './contract/expect.js';
import * as ks from './contract/keystone.js';

describe('contract: Keystone v3 responses', function () {
  this.timeout(60_000);
  let c: Cluster;

  before(async () => {
    c = await Cluster.start();
  });
  after(async () => {
    await c?.stop();
  });

  const get = (path: string, token = c.adminToken) => c.request('GET', `/identity/v3${path}`, { token });

  it('discovery documents', async () => {
    expectShape(await c.request('GET', '/identity/v3'), 200, ks.versionDocument, 'GET /identity/v3');
    expectShape(await c.request('GET', '/identity'), 300, ks.versions, 'GET /identity');
  });

  it('tokens: scoped with a catalog, unscoped, validated, and the catalog and projects of a token', async () => {
    const scoped = await c.request('POST', '/identity/v3/auth/tokens', {
      body: passwordAuth('admin', 'test-admin-secret', 'admin'),
    });
    const body = expectShape(scoped, 201, ks.scopedToken, 'scoped token');
    assert.ok(body.token.catalog.length >= 3);
    const unscoped = { auth: { ...passwordAuth('admin', 'test-admin-secret').auth, scope: 'unscoped' } };
    expectShape(
      await c.request('POST', '/identity/v3/auth/tokens', { body: unscoped }),
      201,
      ks.unscopedToken,
      'unscoped token',
    );
    const token = scoped.headers.get('x-subject-token') as string;
    expectShape(
      await c.request('GET', '/identity/v3/auth/tokens', { token, headers: { 'x-subject-token': token } }),
      200,
      ks.scopedToken,
      'validate',
    );
    expectShape(await get('/auth/catalog', token), 200, ks.authCatalog, 'auth/catalog');
    expectShape(await get('/auth/projects', token), 200, ks.projectList, 'auth/projects');
  });

  it('the admin resources: create, show and list domains, projects, users and roles; assignments', async () => {
    const domain = expectShape(
      await c.request('POST', '/identity/v3/domains', {
        token: c.adminToken,
        body: { domain: { name: 'contract-domain' } },
      }),
      201,
      ks.domainShow,
      'create domain',
    );
    expectShape(await get(`/domains/${domain.domain.id}`), 200, ks.domainShow, 'show domain');
    expectShape(await get('/domains'), 200, ks.domainList, 'list domains');
    const project = expectShape(
      await c.request('POST', '/identity/v3/projects', {
        token: c.adminToken,
        body: { project: { name: 'contract-project', description: 'p' } },
      }),
      201,
      ks.projectShow,
      'create project',
    );
    expectShape(await get(`/projects/${project.project.id}`), 200, ks.projectShow, 'show project');
    expectShape(await get('/projects'), 200, ks.projectList, 'list projects');
    const user = expectShape(
      await c.request('POST', '/identity/v3/users', {
        token: c.adminToken,
        body: {
          user: {
            name: 'contract-user',
            password: 'pw',
            email: 'u@example.org',
            default_project_id: project.project.id,
          },
        },
      }),
      201,
      ks.userShow,
      'create user',
    );
    expectShape(await get(`/users/${user.user.id}`), 200, ks.userShow, 'show user');
    expectShape(await get('/users'), 200, ks.userList, 'list users');
    const role = expectShape(
      await c.request('POST', '/identity/v3/roles', { token: c.adminToken, body: { role: { name: 'contract-role' } } }),
      201,
      ks.roleShow,
      'create role',
    );
    expectShape(await get(`/roles/${role.role.id}`), 200, ks.roleShow, 'show role');
    expectShape(await get('/roles'), 200, ks.roleList, 'list roles');
    const grant = `/identity/v3/projects/${project.project.id}/users/${user.user.id}/roles/${role.role.id}`;
    assert.equal((await c.request('PUT', grant, { token: c.adminToken })).status, 204);
    expectShape(await get(`/projects/${project.project.id}/users/${user.user.id}/roles`), 200, ks.roleList, 'grants');
    expectShape(await get('/role_assignments'), 200, ks.roleAssignments, 'role assignments');
    expectShape(await get('/role_assignments?include_names=1'), 200, ks.roleAssignments, 'role assignments with names');
  });

  it("errors in Keystone's format", async () => {
    expectShape(
      await c.request('POST', '/identity/v3/auth/tokens', { body: passwordAuth('admin', 'wrong', 'admin') }),
      401,
      ks.error(401),
      'bad password',
    );
    expectShape(await get('/projects', 'forged-token'), 401, ks.error(401), 'forged token');
    expectShape(await get('/projects/nope'), 404, ks.error(404), 'unknown project');
    expectShape(
      await c.request('POST', '/identity/v3/projects', { token: c.adminToken, body: { project: {} } }),
      400,
      ks.error(400),
      'bad body',
    );
    const member = await c.tenant('contract-ks-member');
    expectShape(await get('/users', member.token), 403, ks.error(403), 'member listing users');
  });
});
