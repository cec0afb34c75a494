// The cross-project policy matrix: every route in fastify's route table is tried by an admin, a
// member and a reader of project A against project B's resources (servers, server groups,
// images, keypairs, quotas, tokens, identity entities), and by A's reader against A's own. Nova's
// default personas must hold: B's resources are never readable or writable from A except by the
// admin, admin APIs are admin-only, and a reader writes nothing. A route missing from the table
// below fails the test, so no new route escapes the matrix.
import assert from 'node:assert/strict';
import { Cluster, type ApiResponse } from './cluster.js';

/** Whose thing a probe touches, which decides what each persona may get. */
type Owner =
  /** The target project's resource (or a request naming one): refused to non-admins. */
  | 'project'
  /** Another user's keypair or token: refused to non-admins. */
  | 'user'
  /** An admin API: 403 to non-admins. */
  | 'admin'
  /** Shared (flavors, limits) or the caller's own view (lists): allowed, but must show nothing of the target's. */
  | 'shared'
  /** Needs no token (version documents, login, metrics). */
  | 'public';

/** What a probe is aimed at: project B's resources, or A's own for the reader's own-project pass. */
interface Target {
  projectId: string;
  serverId: string;
  groupId: string;
  imageId: string;
  /** A keypair of the target's member, and that member's id and token. */
  keypair: string;
  userId: string;
  token: string;
  requestId: string;
  /** Entities an admin may change and delete without breaking the rest of the matrix. */
  victim: { domainId: string; projectId: string; userId: string; roleId: string; flavorId: string };
}

interface Probe {
  owner: Owner;
  /** The concrete path, body and headers. */
  path: (t: Target) => string;
  body?: (t: Target) => unknown;
  /** Sent as the X-OpenStack-Nova-API-Version. */
  mv?: string;
  headers?: (t: Target) => Record<string, string>;
  rawBody?: Uint8Array;
  /** Refusals a non-admin may get besides 403/404 (a create naming B's image is a 400). */
  alsoRefused?: number[];
  label?: string;
}

const V = '/compute/v2.1';
const P = (owner: Owner, path: (t: Target) => string, more: Omit<Probe, 'owner' | 'path'> = {}): Probe => ({
  owner,
  path,
  ...more,
});
const fixed = (path: string) => () => path;
const jsonPatch = { 'content-type': 'application/openstack-images-v2.1-json-patch' };
const noArg = ['os-start', 'os-stop', 'pause', 'unpause', 'suspend', 'resume'];

/**
 * A Keystone entity's five routes: the admin lists, creates and changes (a victim, so that the
 * rest of the matrix keeps the target's); `shown` is what GET /{id} tries, as `owner`.
 */
function entity(singular: 'domain' | 'project' | 'user' | 'role', owner: Owner, shown: (t: Target) => string) {
  const base = `/identity/v3/${singular}s`;
  const victim = (t: Target) => `${base}/${t.victim[`${singular}Id`]}`;
  return {
    [`GET ${base}`]: P('admin', fixed(base)),
    [`POST ${base}`]: P('admin', fixed(base), {
      body: () => ({ [singular]: { name: `mx-${singular}-${Math.random()}` } }),
    }),
    [`GET ${base}/:id`]: P(owner, (t) => `${base}/${shown(t)}`),
    [`PATCH ${base}/:id`]: P('admin', victim, { body: () => ({ [singular]: { description: 'x' } }) }),
    [`DELETE ${base}/:id`]: P('admin', victim),
  };
}

/** Every route of the gateway, "METHOD /path" as fastify knows it, with the probes that try it. */
const MATRIX: Record<string, Probe | Probe[]> = {
  'GET /metrics': P('public', fixed('/metrics')),
  'GET /healthz': P('public', fixed('/healthz')),
  'GET /identity': P('public', fixed('/identity')),
  'GET /identity/v3': P('public', fixed('/identity/v3')),
  'POST /identity/v3/auth/tokens': P('public', fixed('/identity/v3/auth/tokens')),
  'GET /identity/v3/auth/tokens': P('user', fixed('/identity/v3/auth/tokens'), {
    headers: (t) => ({ 'x-subject-token': t.token }),
  }),
  'DELETE /identity/v3/auth/tokens': P('user', fixed('/identity/v3/auth/tokens'), {
    headers: (t) => ({ 'x-subject-token': t.token }),
  }),
  'GET /identity/v3/auth/projects': P('shared', fixed('/identity/v3/auth/projects')),
  'GET /identity/v3/auth/catalog': P('shared', fixed('/identity/v3/auth/catalog')),
  ...entity('domain', 'admin', (t) => t.victim.domainId),
  ...entity('project', 'project', (t) => t.projectId),
  ...entity('user', 'user', (t) => t.userId),
  ...entity('role', 'admin', (t) => t.victim.roleId),
  ...Object.fromEntries(
    ['GET', 'PUT', 'DELETE'].map((m) => [
      `${m} /identity/v3/projects/:project/users/:user/roles/:role`,
      P(
        'admin',
        (t) => `/identity/v3/projects/${t.victim.projectId}/users/${t.victim.userId}/roles/${t.victim.roleId}`,
      ),
    ]),
  ),
  'GET /identity/v3/projects/:project/users/:user/roles': P(
    'admin',
    (t) => `/identity/v3/projects/${t.projectId}/users/${t.userId}/roles`,
  ),
  'GET /identity/v3/role_assignments': P(
    'admin',
    (t) => `/identity/v3/role_assignments?scope.project.id=${t.projectId}`,
  ),

  'GET /compute': P('public', fixed('/compute')),
  'GET /compute/v2': P('public', fixed('/compute/v2')),
  'GET /compute/v2.1': P('public', fixed(V)),
  'GET /compute/v2.1/servers': [
    P('shared', fixed(`${V}/servers`)),
    P('admin', fixed(`${V}/servers?all_tenants=1`), { label: 'all_tenants' }),
  ],
  'GET /compute/v2.1/servers/detail': [
    P('shared', fixed(`${V}/servers/detail`)),
    P('admin', (t) => `${V}/servers/detail?all_tenants=1&tenant_id=${t.projectId}`, { label: 'all_tenants' }),
  ],
  'POST /compute/v2.1/servers': [
    P('project', fixed(`${V}/servers`), {
      label: "the target's image",
      body: (t) => ({ server: { name: 'mx-probe', imageRef: t.imageId, flavorRef: '1', networks: 'none' } }),
      alsoRefused: [400],
    }),
    P('project', fixed(`${V}/servers`), {
      label: "the target's server group",
      body: (t) => ({
        server: { name: 'mx-probe', imageRef: IMAGE_REF.id, flavorRef: '1', networks: 'none' },
        'os:scheduler_hints': { group: t.groupId },
      }),
      alsoRefused: [400],
    }),
  ],
  'GET /compute/v2.1/servers/:id': P('project', (t) => `${V}/servers/${t.serverId}`),
  'PUT /compute/v2.1/servers/:id': P('project', (t) => `${V}/servers/${t.serverId}`, {
    body: () => ({ server: { name: 'mx-renamed' } }),
  }),
  'DELETE /compute/v2.1/servers/:id': P('project', (t) => `${V}/servers/${t.serverId}`),
  'POST /compute/v2.1/servers/:id/action': [
    ...noArg.map((a) =>
      P('project', (t) => `${V}/servers/${t.serverId}/action`, { label: a, body: () => ({ [a]: null }) }),
    ),
    P('project', (t) => `${V}/servers/${t.serverId}/action`, {
      label: 'reboot',
      body: () => ({ reboot: { type: 'SOFT' } }),
    }),
    P('project', (t) => `${V}/servers/${t.serverId}/action`, {
      label: 'os-getConsoleOutput',
      body: () => ({ 'os-getConsoleOutput': { length: 5 } }),
    }),
    P('project', (t) => `${V}/servers/${t.serverId}/action`, {
      label: 'trigger_crash_dump',
      mv: '2.17',
      body: () => ({ trigger_crash_dump: null }),
    }),
    P('admin', (t) => `${V}/servers/${t.serverId}/action`, {
      label: 'os-migrateLive',
      body: () => ({ 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } }),
    }),
  ],
  'GET /compute/v2.1/servers/:id/os-instance-actions': P(
    'project',
    (t) => `${V}/servers/${t.serverId}/os-instance-actions`,
  ),
  'GET /compute/v2.1/servers/:id/os-instance-actions/:requestId': P(
    'project',
    (t) => `${V}/servers/${t.serverId}/os-instance-actions/${t.requestId}`,
  ),
  'GET /compute/v2.1/servers/:id/migrations': P('admin', (t) => `${V}/servers/${t.serverId}/migrations`, {
    mv: '2.23',
  }),
  'GET /compute/v2.1/servers/:id/migrations/:mid': P('admin', (t) => `${V}/servers/${t.serverId}/migrations/1`, {
    mv: '2.23',
  }),
  'POST /compute/v2.1/servers/:id/migrations/:mid/action': P(
    'admin',
    (t) => `${V}/servers/${t.serverId}/migrations/1/action`,
    { mv: '2.22', body: () => ({ force_complete: null }) },
  ),
  'DELETE /compute/v2.1/servers/:id/migrations/:mid': P('admin', (t) => `${V}/servers/${t.serverId}/migrations/1`, {
    mv: '2.24',
  }),
  'GET /compute/v2.1/flavors': P('shared', fixed(`${V}/flavors`)),
  'GET /compute/v2.1/flavors/detail': P('shared', fixed(`${V}/flavors/detail`)),
  'GET /compute/v2.1/flavors/:id': P('shared', fixed(`${V}/flavors/1`)),
  'POST /compute/v2.1/flavors': P('admin', fixed(`${V}/flavors`), {
    body: () => ({ flavor: { name: `mx-flavor-${Math.random()}`, ram: 64, vcpus: 1, disk: 1 } }),
  }),
  'DELETE /compute/v2.1/flavors/:id': P('admin', (t) => `${V}/flavors/${t.victim.flavorId}`),
  'GET /compute/v2.1/flavors/:id/os-extra_specs': P('shared', fixed(`${V}/flavors/1/os-extra_specs`)),
  'POST /compute/v2.1/flavors/:id/os-extra_specs': P(
    'admin',
    (t) => `${V}/flavors/${t.victim.flavorId}/os-extra_specs`,
    {
      body: () => ({ extra_specs: { k: 'v' } }),
    },
  ),
  'GET /compute/v2.1/flavors/:id/os-extra_specs/:key': P('shared', fixed(`${V}/flavors/1/os-extra_specs/k`)),
  'PUT /compute/v2.1/flavors/:id/os-extra_specs/:key': P(
    'admin',
    (t) => `${V}/flavors/${t.victim.flavorId}/os-extra_specs/k`,
    { body: () => ({ k: 'w' }) },
  ),
  'DELETE /compute/v2.1/flavors/:id/os-extra_specs/:key': P(
    'admin',
    (t) => `${V}/flavors/${t.victim.flavorId}/os-extra_specs/k`,
  ),
  'GET /compute/v2.1/os-hypervisors': P('admin', fixed(`${V}/os-hypervisors`)),
  'GET /compute/v2.1/os-hypervisors/detail': P('admin', fixed(`${V}/os-hypervisors/detail`)),
  'GET /compute/v2.1/os-hypervisors/statistics': P('admin', fixed(`${V}/os-hypervisors/statistics`)),
  'GET /compute/v2.1/os-hypervisors/:id': P('admin', fixed(`${V}/os-hypervisors/1`)),
  'GET /compute/v2.1/os-services': P('admin', fixed(`${V}/os-services`)),
  'PUT /compute/v2.1/os-services/:action': P('admin', fixed(`${V}/os-services/enable`), {
    body: () => ({ host: 'node-1', binary: 'nova-compute' }),
  }),
  'GET /compute/v2.1/images': P('shared', fixed(`${V}/images`)),
  'GET /compute/v2.1/images/detail': P('shared', fixed(`${V}/images/detail`)),
  'GET /compute/v2.1/images/:id': P('project', (t) => `${V}/images/${t.imageId}`),
  'GET /compute/v2.1/limits': P('shared', fixed(`${V}/limits`)),
  'GET /compute/v2.1/os-server-groups': [
    P('shared', fixed(`${V}/os-server-groups`)),
    P('shared', fixed(`${V}/os-server-groups?all_projects=1`), { label: 'all_projects' }),
  ],
  'POST /compute/v2.1/os-server-groups': P('shared', fixed(`${V}/os-server-groups`), {
    body: () => ({ server_group: { name: 'mx-probe-group', policies: ['anti-affinity'] } }),
  }),
  'GET /compute/v2.1/os-server-groups/:id': P('project', (t) => `${V}/os-server-groups/${t.groupId}`),
  'DELETE /compute/v2.1/os-server-groups/:id': P('project', (t) => `${V}/os-server-groups/${t.groupId}`),
  'GET /compute/v2.1/os-keypairs': [
    P('shared', fixed(`${V}/os-keypairs`)),
    P('user', (t) => `${V}/os-keypairs?user_id=${t.userId}`, { mv: '2.10', label: 'user_id' }),
  ],
  'POST /compute/v2.1/os-keypairs': P('user', fixed(`${V}/os-keypairs`), {
    mv: '2.10',
    label: 'user_id',
    body: (t) => ({ keypair: { name: `mx-planted-${Math.random().toString(36).slice(2)}`, user_id: t.userId } }),
  }),
  'GET /compute/v2.1/os-keypairs/:name': P('user', (t) => `${V}/os-keypairs/${t.keypair}?user_id=${t.userId}`, {
    mv: '2.10',
  }),
  'DELETE /compute/v2.1/os-keypairs/:name': P('user', (t) => `${V}/os-keypairs/${t.keypair}?user_id=${t.userId}`, {
    mv: '2.10',
  }),
  'GET /compute/v2.1/os-quota-sets/:id': P('project', (t) => `${V}/os-quota-sets/${t.projectId}`),
  'GET /compute/v2.1/os-quota-sets/:id/detail': P('project', (t) => `${V}/os-quota-sets/${t.projectId}/detail`),
  'GET /compute/v2.1/os-quota-sets/:id/defaults': P('shared', (t) => `${V}/os-quota-sets/${t.projectId}/defaults`),
  'PUT /compute/v2.1/os-quota-sets/:id': P('admin', (t) => `${V}/os-quota-sets/${t.projectId}`, {
    body: () => ({ quota_set: { instances: 11 } }),
  }),
  'DELETE /compute/v2.1/os-quota-sets/:id': P('admin', (t) => `${V}/os-quota-sets/${t.projectId}`),
  'GET /compute/v2.1/os-availability-zone': P('shared', fixed(`${V}/os-availability-zone`)),
  'GET /compute/v2.1/os-availability-zone/detail': P('admin', fixed(`${V}/os-availability-zone/detail`)),
  'GET /compute/v2.1/os-migrations': P('admin', fixed(`${V}/os-migrations`)),

  'GET /image': P('public', fixed('/image')),
  'GET /image/versions': P('public', fixed('/image/versions')),
  'GET /image/v2/images': [
    P('shared', fixed('/image/v2/images')),
    P('shared', fixed('/image/v2/images?visibility=all'), { label: 'visibility=all' }),
    P('shared', (t) => `/image/v2/images?owner=${t.projectId}`, { label: 'owner' }),
  ],
  'POST /image/v2/images': P('project', fixed('/image/v2/images'), {
    label: "owner: the target's project",
    body: (t) => ({ name: 'mx-planted', owner: t.projectId }),
  }),
  'GET /image/v2/images/:id': P('project', (t) => `/image/v2/images/${t.imageId}`),
  'PATCH /image/v2/images/:id': P('project', (t) => `/image/v2/images/${t.imageId}`, {
    headers: () => jsonPatch,
    body: () => [{ op: 'replace', path: '/name', value: 'mx-renamed' }],
  }),
  'DELETE /image/v2/images/:id': P('project', (t) => `/image/v2/images/${t.imageId}`),
  'PUT /image/v2/images/:id/file': P('project', (t) => `/image/v2/images/${t.imageId}/file`, {
    headers: () => ({ 'content-type': 'application/octet-stream' }),
    rawBody: new Uint8Array(512),
  }),
  'GET /image/v2/images/:id/file': P('project', (t) => `/image/v2/images/${t.imageId}/file`),
  'PUT /image/v2/images/:id/tags/:tag': P('project', (t) => `/image/v2/images/${t.imageId}/tags/mx-tag`),
  'DELETE /image/v2/images/:id/tags/:tag': P('project', (t) => `/image/v2/images/${t.imageId}/tags/secret-tag`),
};

/** The public image every project may boot, for the probe that names the target's server group. */
const IMAGE_REF = { id: '' };

/** A route's shape: fastify's table merges the names of parameters at one place (":id|:project"). */
const shape = (route: string) => route.replace(/:[\w|:]+/g, ':');

/** "METHOD /path" for every route in fastify's table (HEAD is GET's twin and left out). */
function routeTable(printed: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of printed.split('\n')) {
    const m = /^([│├└─\s]*)(\S.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    const path = stack.join('');
    for (const method of m[3]?.split(', ') ?? []) if (method !== 'HEAD') out.push(`${method} ${path}`);
  }
  return out;
}

describe('api-gateway: cross-project policy matrix', function () {
  this.timeout(180_000);
  let c: Cluster;
  let routes: string[];
  const personas: Record<string, string> = {};
  let b: Target;
  let a: Target;

  async function project(name: string): Promise<string> {
    const res = await c.request('POST', '/identity/v3/projects', {
      token: c.adminToken,
      body: { project: { name } },
    });
    return res.body.project.id;
  }

  async function roleId(name: string): Promise<string> {
    return (await c.request('GET', `/identity/v3/roles?name=${name}`, { token: c.adminToken })).body.roles[0].id;
  }

  /** A user holding `role` on the project; returns its id and a token scoped there. */
  async function user(name: string, projectId: string, projectName: string, role: string) {
    const u = await c.request('POST', '/identity/v3/users', {
      token: c.adminToken,
      body: { user: { name, password: `${name}-pw` } },
    });
    const id = u.body.user.id as string;
    await c.request('PUT', `/identity/v3/projects/${projectId}/users/${id}/roles/${await roleId(role)}`, {
      token: c.adminToken,
    });
    return { id, token: await c.token(name, `${name}-pw`, projectName) };
  }

  /** A project's resources, made by its member (the names are what a leak would show). */
  async function resources(name: string, victims: boolean): Promise<Target> {
    const projectId = await project(name);
    const member = await user(`${name}-member`, projectId, name, 'member');
    const token = member.token;
    const group = await c.compute('POST', '/os-server-groups', {
      token,
      body: { server_group: { name: `${name}-group`, policies: ['affinity'] } },
    });
    const serverId = await c.createServer(`${name}-server`, { token, hints: { group: group.body.server_group.id } });
    await c.waitStatus(serverId, 'ACTIVE', token);
    const image = await c.request('POST', '/image/v2/images', {
      token,
      body: { name: `${name}-image`, visibility: 'private', tags: ['secret-tag'] },
    });
    await c.compute('POST', '/os-keypairs', { token, body: { keypair: { name: `${name}-keypair` } } });
    const actions = await c.compute('GET', `/servers/${serverId}/os-instance-actions`, { token });
    const admin = c.adminToken;
    const victim = async () => {
      const domain = await c.request('POST', '/identity/v3/domains', {
        token: admin,
        body: { domain: { name: `victim-of-${name}`, enabled: false } },
      });
      const vp = await project(`victim-of-${name}`);
      const vu = await c.request('POST', '/identity/v3/users', {
        token: admin,
        body: { user: { name: `victim-of-${name}` } },
      });
      const role = await c.request('POST', '/identity/v3/roles', {
        token: admin,
        body: { role: { name: `victim-of-${name}` } },
      });
      const flavor = await c.compute('POST', '/flavors', {
        body: { flavor: { name: `victim-of-${name}`, id: `victim-of-${name}`, ram: 64, vcpus: 1, disk: 1 } },
      });
      return {
        domainId: domain.body.domain.id,
        projectId: vp,
        userId: vu.body.user.id,
        roleId: role.body.role.id,
        flavorId: flavor.body.flavor.id,
      };
    };
    return {
      projectId,
      serverId,
      groupId: group.body.server_group.id,
      imageId: image.body.id,
      keypair: `${name}-keypair`,
      userId: member.id,
      token,
      requestId: actions.body.instanceActions[0].request_id,
      victim: victims ? await victim() : { domainId: 'x', projectId: 'x', userId: 'x', roleId: 'x', flavorId: 'x' },
    };
  }

  before(async () => {
    c = await Cluster.start({ nodes: [{ vcpus: 64, ramMb: 65536 }] });
    IMAGE_REF.id = c.image.id;
    await c.gateway.http.ready();
    routes = routeTable(c.gateway.http.printRoutes({ commonPrefix: false }));
    b = await resources('mx-b', true);
    a = await resources('mx-a', true);
    for (const role of ['admin', 'member', 'reader']) {
      personas[role] = (await user(`mx-a-as-${role}`, a.projectId, 'mx-a', role)).token;
    }
  });
  after(async () => {
    await c?.stop();
  });

  const byShape = new Map(Object.entries(MATRIX).map(([route, probes]) => [shape(route), [probes].flat()]));
  const probesOf = (route: string): Probe[] => byShape.get(shape(route)) ?? [];

  async function call(route: string, p: Probe, t: Target, token: string): Promise<ApiResponse> {
    const method = route.split(' ')[0];
    return c.request(method, p.path(t), {
      token,
      body: p.body?.(t),
      rawBody: p.rawBody,
      headers: { ...(p.mv ? { 'X-OpenStack-Nova-API-Version': p.mv } : {}), ...p.headers?.(t) },
    });
  }

  it('covers every route in the route table, and only those', () => {
    const missing = routes.filter((r) => !byShape.has(shape(r)));
    const stale = Object.keys(MATRIX).filter((r) => !routes.some((x) => shape(x) === shape(r)));
    assert.deepEqual(missing, [], `routes the matrix does not try: add them to MATRIX`);
    assert.deepEqual(stale, [], 'MATRIX rows for routes that no longer exist');
  });

  it("keeps project B's resources from A's member and reader, lets A's admin, and A's reader writes nothing", async () => {
    const secrets = (t: Target) => [t.serverId, t.groupId, t.imageId, t.keypair, 'mx-b-'];
    const failures: string[] = [];
    type Row = { probes: number; ok: number; refused: number; other: number; leaks: number };
    const table: Record<string, Row> = {};
    const count = (pass: string, kind: keyof Row) => {
      table[pass] ??= { probes: 0, ok: 0, refused: 0, other: 0, leaks: 0 };
      table[pass][kind]++;
    };

    // Destructive probes last, so that B's resources are there for every other probe; the admin
    // goes after the others for the same reason.
    const order = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'];
    const sorted = [...routes].sort((x, y) => order.indexOf(x.split(' ')[0]) - order.indexOf(y.split(' ')[0]));
    const runs: [string, string, Target][] = [
      ['reader → own project', personas.reader, a],
      ['member → B', personas.member, b],
      ['reader → B', personas.reader, b],
      ['admin → B', personas.admin, b],
    ];
    for (const [pass, token, t] of runs) {
      for (const route of sorted) {
        const write = !route.startsWith('GET ');
        for (const p of probesOf(route)) {
          if (p.owner === 'public') continue;
          const name = `${pass}: ${route}${p.label ? ` (${p.label})` : ''}`;
          if (pass.endsWith('own project') && !write) continue;
          const res = await call(route, p, t, token);
          count(pass, 'probes');
          const s = res.status;
          const ok = s >= 200 && s < 300;
          const refused = s === 403 || s === 404 || (p.alsoRefused ?? []).includes(s);
          count(pass, ok ? 'ok' : refused ? 'refused' : 'other');
          if (s === 401 || s >= 500) failures.push(`${name}: ${s} ${res.text.slice(0, 200)}`);
          else if (pass.startsWith('admin')) {
            if (s === 403) failures.push(`${name}: admin refused: ${res.text.slice(0, 200)}`);
          } else if (pass.endsWith('own project')) {
            // A reader's write on its own project's resources: policy must say no.
            if (s !== 403) {
              count(pass, 'leaks');
              failures.push(`${name}: reader write answered ${s}`);
            }
          } else if (p.owner === 'shared') {
            if (ok && secrets(t).some((x) => res.text.includes(x))) {
              count(pass, 'leaks');
              failures.push(`${name}: shows B's resources: ${res.text.slice(0, 200)}`);
            }
            if (pass.startsWith('reader') && write && s !== 403) {
              count(pass, 'leaks');
              failures.push(`${name}: reader write answered ${s}`);
            }
          } else if (!refused || (p.owner === 'admin' && s !== 403)) {
            count(pass, 'leaks');
            failures.push(`${name}: ${s} ${res.text.slice(0, 200)}`);
          }
        }
      }
    }
    console.log(`\n      policy matrix: ${routes.length} routes`);
    console.table(table);
    assert.deepEqual(failures, []);
  });
});
