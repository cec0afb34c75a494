// The cross-project policy matrix: every route in fastify's route table is tried by an admin, a
// member and a reader of project A against project B's resources (servers, server groups,
// images, keypairs, quotas, tokens, identity entities, networks and what hangs off them), and by
// A's reader against A's own. Nova's and Neutron's default personas must hold: B's resources are
// never readable or writable from A except by the admin, admin APIs are admin-only, and a reader
// writes nothing. A route missing from the table
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
  /**
   * Shared (flavors, limits, the admin's external and shared networks) or the caller's own view
   * (lists, creates in its own project): allowed, but must show nothing of the target's.
   */
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
  /**
   * Its network and subnet, a router joining that subnet to the external network, a port on
   * the subnet in its security group (with one rule of its own) and a floating IP on the port;
   * and a port on the admin's shared network.
   */
  networkId: string;
  subnetId: string;
  routerId: string;
  /** The router's interface on the subnet. */
  routerPortId: string;
  portId: string;
  floatingIpId: string;
  securityGroupId: string;
  ruleId: string;
  sharedPortId: string;
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

const N = '/networking/v2.0';
const ROUTER_INTERFACE = 'network:router_interface';

/**
 * A Neutron resource's rows: its list (also filtered by the target's project, which must find
 * nothing), the creates, and GET, PUT and DELETE of the target's record. `visible` names records
 * everyone sees but only their owner, the admin, changes (the external and shared networks):
 * GET is shared, PUT and DELETE the admin's. `updates` are PUTs pointing A's records at B's.
 */
function neutron(
  path: string,
  id: (t: Target) => string,
  more: { create: Probe[]; update?: unknown; updates?: Probe[]; visible?: Record<string, () => string> },
) {
  const base = `${N}/${path}`;
  const onRecord = (others: Owner, extra: Omit<Probe, 'owner' | 'path'> = {}) => [
    P('project', (t) => `${base}/${id(t)}`, extra),
    ...Object.entries(more.visible ?? {}).map(([label, of]) => P(others, () => `${base}/${of()}`, { label, ...extra })),
  ];
  const update = more.update;
  return {
    [`GET ${base}`]: [
      P('shared', fixed(base)),
      P('shared', (t) => `${base}?project_id=${t.projectId}`, { label: 'project_id' }),
    ],
    [`POST ${base}`]: more.create,
    [`GET ${base}/:id`]: onRecord('shared'),
    ...(update === undefined
      ? {}
      : { [`PUT ${base}/:id`]: [...onRecord('admin', { body: () => update }), ...(more.updates ?? [])] }),
    [`DELETE ${base}/:id`]: onRecord('admin'),
  };
}

/** A router's add/remove_router_interface on the target's router, or on the caller's own (`own`). */
const routerInterface = (
  action: 'add' | 'remove',
  owner: Owner,
  label: string | undefined,
  body: (t: Target) => unknown,
  own = false,
) =>
  P(owner, (t) => `${N}/routers/${own ? REF.own.routerId : t.routerId}/${action}_router_interface`, {
    body,
    ...(label ? { label } : {}),
    // Neutron's 400 for a subnet that is not the caller's project's.
    alsoRefused: [400],
  });

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
        server: { name: 'mx-probe', imageRef: REF.imageId, flavorRef: '1', networks: 'none' },
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

  'GET /networking': P('public', fixed('/networking')),
  'GET /networking/v2.0': P('shared', fixed(`${N}/`)),
  'GET /networking/v2.0/extensions': P('shared', fixed(`${N}/extensions`)),
  'GET /networking/v2.0/extensions/:alias': P('shared', fixed(`${N}/extensions/router`)),
  ...neutron('networks', (t) => t.networkId, {
    create: [
      P('shared', fixed(`${N}/networks`), { body: () => ({ network: { name: 'mx-probe-net' } }) }),
      P('project', fixed(`${N}/networks`), {
        label: "project_id: the target's",
        body: (t) => ({ network: { name: 'mx-planted', project_id: t.projectId } }),
      }),
      P('admin', fixed(`${N}/networks`), {
        label: 'shared',
        body: () => ({ network: { name: 'mx-probe-shared', shared: true } }),
      }),
    ],
    update: { network: { description: 'mx-changed' } },
    updates: [
      P('admin', () => `${N}/networks/${REF.own.networkId}`, {
        label: 'shared: true',
        body: () => ({ network: { shared: true } }),
      }),
    ],
    visible: { external: () => REF.external.networkId, shared: () => REF.shared.networkId },
  }),
  ...neutron('subnets', (t) => t.subnetId, {
    create: [
      P('shared', fixed(`${N}/subnets`), {
        label: "the caller's network",
        body: () => ({ subnet: { network_id: REF.own.networkId, cidr: '10.78.0.0/24' } }),
      }),
      P('project', fixed(`${N}/subnets`), {
        label: "the target's network",
        body: (t) => ({ subnet: { network_id: t.networkId, cidr: '10.77.0.0/24' } }),
      }),
      P('admin', fixed(`${N}/subnets`), {
        label: 'the external network',
        body: () => ({ subnet: { network_id: REF.external.networkId, cidr: '198.51.100.0/24' } }),
      }),
    ],
    update: { subnet: { description: 'mx-changed' } },
    visible: { external: () => REF.external.subnetId, shared: () => REF.shared.subnetId },
  }),
  ...neutron('ports', (t) => t.portId, {
    create: [
      P('shared', fixed(`${N}/ports`), {
        label: 'the shared network',
        body: () => ({ port: { network_id: REF.shared.networkId } }),
      }),
      P('project', fixed(`${N}/ports`), {
        label: "the target's network",
        body: (t) => ({ port: { network_id: t.networkId } }),
      }),
      P('project', fixed(`${N}/ports`), {
        label: "the target's security group",
        body: (t) => ({ port: { network_id: REF.shared.networkId, security_groups: [t.securityGroupId] } }),
      }),
      P('project', fixed(`${N}/ports`), {
        label: "an interface of the target's router",
        body: (t) => ({
          port: { network_id: REF.own.networkId, device_owner: ROUTER_INTERFACE, device_id: t.routerId },
        }),
        // Neutron's DeviceIDNotOwnedByTenant.
        alsoRefused: [409],
      }),
      P('admin', fixed(`${N}/ports`), {
        label: 'the external network',
        body: () => ({ port: { network_id: REF.external.networkId } }),
      }),
      P('admin', fixed(`${N}/ports`), {
        label: 'an address of the shared network',
        body: () => ({ port: { network_id: REF.shared.networkId, fixed_ips: [{ ip_address: '10.99.0.98' }] } }),
      }),
    ],
    update: { port: { name: 'mx-changed' } },
    updates: [
      P('project', () => `${N}/ports/${REF.own.portId}`, {
        label: "an interface of the target's router",
        body: (t) => ({ port: { device_owner: ROUTER_INTERFACE, device_id: t.routerId } }),
        alsoRefused: [409],
      }),
      P('admin', () => `${N}/ports/${REF.own.sharedPortId}`, {
        label: 'an address of the shared network',
        body: () => ({ port: { fixed_ips: [{ ip_address: '10.99.0.99' }] } }),
      }),
    ],
  }),
  ...neutron('routers', (t) => t.routerId, {
    create: [
      P('shared', fixed(`${N}/routers`), {
        body: () => ({
          router: { name: 'mx-probe-router', external_gateway_info: { network_id: REF.external.networkId } },
        }),
      }),
      P('project', fixed(`${N}/routers`), {
        label: "project_id: the target's",
        body: (t) => ({ router: { name: 'mx-planted', project_id: t.projectId } }),
      }),
      P('admin', fixed(`${N}/routers`), {
        label: 'external_fixed_ips',
        body: () => ({
          router: {
            external_gateway_info: {
              network_id: REF.external.networkId,
              external_fixed_ips: [{ ip_address: '203.0.113.250' }],
            },
          },
        }),
      }),
    ],
    update: { router: { name: 'mx-changed' } },
  }),
  'PUT /networking/v2.0/routers/:id/add_router_interface': [
    routerInterface('add', 'project', undefined, (t) => ({ subnet_id: t.subnetId })),
    routerInterface(
      'add',
      'project',
      "the caller's router, the target's subnet",
      (t) => ({ subnet_id: t.subnetId }),
      true,
    ),
    routerInterface('add', 'project', "the caller's router, the target's port", (t) => ({ port_id: t.portId }), true),
    routerInterface(
      'add',
      'project',
      "the caller's router, the external subnet",
      () => ({ subnet_id: REF.external.subnetId }),
      true,
    ),
    routerInterface(
      'add',
      'project',
      "the caller's router, the shared subnet",
      () => ({ subnet_id: REF.shared.subnetId }),
      true,
    ),
  ],
  'PUT /networking/v2.0/routers/:id/remove_router_interface': [
    routerInterface('remove', 'project', undefined, (t) => ({ subnet_id: t.subnetId })),
    routerInterface('remove', 'project', 'port_id', (t) => ({ port_id: t.routerPortId })),
  ],
  ...neutron('floatingips', (t) => t.floatingIpId, {
    create: [
      P('shared', fixed(`${N}/floatingips`), {
        body: () => ({ floatingip: { floating_network_id: REF.external.networkId } }),
      }),
      P('project', fixed(`${N}/floatingips`), {
        label: "project_id: the target's",
        body: (t) => ({ floatingip: { floating_network_id: REF.external.networkId, project_id: t.projectId } }),
      }),
      P('project', fixed(`${N}/floatingips`), {
        label: "the target's port",
        body: (t) => ({ floatingip: { floating_network_id: REF.external.networkId, port_id: t.portId } }),
      }),
      P('admin', fixed(`${N}/floatingips`), {
        label: 'floating_ip_address',
        body: () => ({
          floatingip: { floating_network_id: REF.external.networkId, floating_ip_address: '203.0.113.251' },
        }),
      }),
    ],
    update: { floatingip: { description: 'mx-changed' } },
    updates: [
      P('project', () => `${N}/floatingips/${REF.own.floatingIpId}`, {
        label: "the caller's floating IP to the target's port",
        body: (t) => ({ floatingip: { port_id: t.portId } }),
      }),
    ],
  }),
  ...neutron('security-groups', (t) => t.securityGroupId, {
    create: [
      P('shared', fixed(`${N}/security-groups`), { body: () => ({ security_group: { name: 'mx-probe-sg' } }) }),
      P('project', fixed(`${N}/security-groups`), {
        label: "project_id: the target's",
        body: (t) => ({ security_group: { name: 'mx-planted', project_id: t.projectId } }),
      }),
    ],
    update: { security_group: { description: 'mx-changed' } },
  }),
  ...neutron('security-group-rules', (t) => t.ruleId, {
    create: [
      P('project', fixed(`${N}/security-group-rules`), {
        label: "the target's group",
        body: (t) => ({
          security_group_rule: {
            security_group_id: t.securityGroupId,
            direction: 'ingress',
            protocol: 'tcp',
            port_range_min: 80,
            port_range_max: 80,
          },
        }),
      }),
      P('project', fixed(`${N}/security-group-rules`), {
        label: "remote_group_id: the target's group",
        body: (t) => ({
          security_group_rule: {
            security_group_id: REF.own.securityGroupId,
            direction: 'ingress',
            remote_group_id: t.securityGroupId,
          },
        }),
      }),
    ],
  }),
  'GET /networking/v2.0/quotas': P('admin', fixed(`${N}/quotas`)),
  ...Object.fromEntries(
    ['', '/default', '/details'].map((tail) => [
      `GET /networking/v2.0/quotas/:project${tail}`,
      [
        P('admin', (t) => `${N}/quotas/${t.projectId}${tail}`),
        P('shared', () => `${N}/quotas/${REF.own.projectId}${tail}`, { label: "the caller's" }),
      ],
    ]),
  ),
  'PUT /networking/v2.0/quotas/:project': P('admin', (t) => `${N}/quotas/${t.projectId}`, {
    body: () => ({ quota: { network: 50 } }),
  }),
  'DELETE /networking/v2.0/quotas/:project': P('admin', (t) => `${N}/quotas/${t.projectId}`),
};

/**
 * What probes name besides their target, set in `before`: the public image every project may
 * boot (for the probe that names the target's server group), the admin's external and shared
 * networks, and the caller's own project (A) for probes that point A's resources at B's.
 */
const REF = {
  imageId: '',
  external: { networkId: '', subnetId: '' },
  shared: { networkId: '', subnetId: '' },
  own: {} as Target,
};

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

  /** A Neutron call of the setup, which must succeed: its body. */
  async function net(method: string, path: string, token: string, body: unknown) {
    const res = await c.request(method, `${N}${path}`, { token, body });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
    return res.body;
  }

  /** A network of the admin's, with a subnet of `cidr`. */
  async function adminNetwork(name: string, cidr: string, attrs: object) {
    const network = (await net('POST', '/networks', c.adminToken, { network: { name, ...attrs } })).network;
    const subnet = (await net('POST', '/subnets', c.adminToken, { subnet: { network_id: network.id, cidr } })).subnet;
    return { networkId: network.id as string, subnetId: subnet.id as string };
  }

  /** A project's resources, made by its member (the names are what a leak would show). */
  async function resources(name: string, victims: boolean, cidr: string): Promise<Target> {
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
    const network = (await net('POST', '/networks', token, { network: { name: `${name}-net` } })).network;
    const subnet = (
      await net('POST', '/subnets', token, { subnet: { network_id: network.id, name: `${name}-subnet`, cidr } })
    ).subnet;
    const router = (
      await net('POST', '/routers', token, {
        router: { name: `${name}-router`, external_gateway_info: { network_id: REF.external.networkId } },
      })
    ).router;
    const routerPort = await net('PUT', `/routers/${router.id}/add_router_interface`, token, { subnet_id: subnet.id });
    const sg = (await net('POST', '/security-groups', token, { security_group: { name: `${name}-sg` } }))
      .security_group;
    const rule = (
      await net('POST', '/security-group-rules', token, {
        security_group_rule: {
          security_group_id: sg.id,
          direction: 'ingress',
          protocol: 'tcp',
          port_range_min: 22,
          port_range_max: 22,
        },
      })
    ).security_group_rule;
    const port = (
      await net('POST', '/ports', token, {
        port: { network_id: network.id, name: `${name}-port`, security_groups: [sg.id] },
      })
    ).port;
    const fip = (
      await net('POST', '/floatingips', token, {
        floatingip: { floating_network_id: REF.external.networkId, port_id: port.id, description: `${name}-fip` },
      })
    ).floatingip;
    const sharedPort = (
      await net('POST', '/ports', token, { port: { network_id: REF.shared.networkId, name: `${name}-shared-port` } })
    ).port;
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
      networkId: network.id,
      subnetId: subnet.id,
      routerId: router.id,
      routerPortId: routerPort.port_id,
      portId: port.id,
      floatingIpId: fip.id,
      securityGroupId: sg.id,
      ruleId: rule.id,
      sharedPortId: sharedPort.id,
      victim: victims ? await victim() : { domainId: 'x', projectId: 'x', userId: 'x', roleId: 'x', flavorId: 'x' },
    };
  }

  before(async () => {
    c = await Cluster.start({ nodes: [{ vcpus: 64, ramMb: 65536 }] });
    REF.imageId = c.image.id;
    await c.gateway.http.ready();
    routes = routeTable(c.gateway.http.printRoutes({ commonPrefix: false }));
    REF.external = await adminNetwork('mx-external', '203.0.113.0/24', { 'router:external': true });
    REF.shared = await adminNetwork('mx-shared', '10.99.0.0/24', { shared: true });
    b = await resources('mx-b', true, '10.20.0.0/24');
    a = await resources('mx-a', true, '10.30.0.0/24');
    REF.own = a;
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
    const secrets = (t: Target) => [
      t.serverId,
      t.groupId,
      t.imageId,
      t.keypair,
      t.networkId,
      t.subnetId,
      t.routerId,
      t.portId,
      t.routerPortId,
      t.sharedPortId,
      t.floatingIpId,
      t.securityGroupId,
      t.ruleId,
      'mx-b-',
    ];
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
