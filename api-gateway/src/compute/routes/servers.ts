// /servers: create (202, then the build runs in the background), list and detail (own project;
// all_tenants for admins; filters and pages), show, update (the name and access IPs; from 2.19
// the description) and delete (204, then the delete runs in the background). Show and detail
// carry host_status from 2.16 for whom its policy allows.
import { randomBytes } from 'node:crypto';
import { readHosts, type HostState, type InstanceRecord } from '@hypernova/cluster-state';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { badRequest } from '../../http/errors.js';
import { flag, paginate, param, queryOf, type Query } from '../../http/query.js';
import { caller } from '../../identity/auth.js';
import { allowed, enforce, type Caller } from '../../policy.js';
import { createServers, filterServers, loadServer, updateServer, type ServerFilters } from '../api.js';
import type { ActionContext } from '../instance-actions.js';
import { createSchema, updateSchema, type CreateBody, type UpdateBody } from '../schemas/servers.js';
import { pageLinks, resourceLinks } from '../views/links.js';
import { serverBase, serverDetail, serverSummary } from '../views/servers.js';

/** `description` is a 2.19 key: below it the schema has none, so Nova's additionalProperties 400. */
function checkDescription(request: FastifyRequest, server: { description?: unknown }): void {
  if (server.description !== undefined && !request.microversion.atLeast(19)) {
    throw badRequest(
      `Invalid input for field/attribute server. Value: ${JSON.stringify(server)}. Additional properties are not allowed ('description' was unexpected)`,
    );
  }
}

/** The hosts a body's host_status is computed from: only at 2.16+ and for whom the policy allows. */
async function hostsFor(
  gw: Gateway,
  request: FastifyRequest,
  c: Caller,
  records: readonly InstanceRecord[],
): Promise<ReadonlyMap<string, HostState> | undefined> {
  if (!request.microversion.atLeast(16) || !allowed(c, 'os_compute_api:servers:show:host_status')) return undefined;
  const names = [...new Set(records.map((i) => i.host).filter(Boolean))];
  return new Map((await readHosts(gw.redis, names)).map((h) => [h.name, h]));
}

const truthy = (v: unknown) => v === true || (typeof v === 'string' && /^(1|t|true|on|y|yes)$/i.test(v));

/** Who an instance action is recorded for: the request id the client got back, and the caller. */
export function actionContext(request: FastifyRequest, c: Caller): ActionContext {
  return { requestId: request.id, userId: c.userId, projectId: c.projectId };
}

/** The list filters of a query; host only for admins. */
function filtersOf(q: Query, admin: boolean): ServerFilters {
  const since = param(q, 'changes-since');
  const changesSince = since === undefined ? undefined : Date.parse(since);
  if (changesSince !== undefined && Number.isNaN(changesSince))
    throw badRequest(`Invalid filter field: changes-since.`);
  return {
    name: param(q, 'name'),
    status: param(q, 'status'),
    host: admin ? param(q, 'host') : undefined,
    image: param(q, 'image'),
    flavor: param(q, 'flavor'),
    reservationId: param(q, 'reservation_id'),
    changesSince,
  };
}

export function registerServerRoutes(app: FastifyInstance, gw: Gateway): void {
  app.post<{ Body: CreateBody }>('/servers', { schema: { body: createSchema } }, async (request, reply) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:servers:create');
    const body = request.body;
    const s = body.server;
    checkDescription(request, s);
    const minCount = Number(s.min_count ?? 1);
    const { reservationId, created } = await createServers(
      gw,
      c,
      {
        name: s.name,
        // Nova: the request's description from 2.19 (null when absent), the name before.
        description: request.microversion.atLeast(19) ? (s.description ?? null) : s.name,
        imageRef: s.imageRef,
        flavorRef: s.flavorRef,
        networks: s.networks,
        minCount,
        maxCount: Number(s.max_count ?? minCount),
        availabilityZone: s.availability_zone,
        keyName: s.key_name,
        metadata: s.metadata ?? {},
        userData: s.user_data,
        accessIPv4: s.accessIPv4,
        accessIPv6: s.accessIPv6,
        configDrive: truthy(s.config_drive),
        groupId: (body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'])?.group,
      },
      actionContext(request, c),
    );

    const base = baseUrl(gw.config.publicUrl, request);
    void reply.code(202);
    if (truthy(s.return_reservation_id)) return { reservation_id: reservationId };
    const first = created[0];
    void reply.header('Location', resourceLinks(base, 'servers', first.uuid)[0].href);
    return {
      server: {
        id: first.uuid,
        links: resourceLinks(base, 'servers', first.uuid),
        adminPass: s.adminPass ?? randomBytes(9).toString('base64url'),
        'OS-DCF:diskConfig': 'MANUAL',
        security_groups: [{ name: 'default' }],
      },
    };
  });

  async function list(request: FastifyRequest, detail: boolean) {
    const c = caller(request);
    const kind = detail ? 'detail' : 'index';
    enforce(c, `os_compute_api:servers:${kind}`);
    const q = queryOf(request);
    const allTenants = flag(q, 'all_tenants');
    if (allTenants) enforce(c, `os_compute_api:servers:${kind}:get_all_tenants`);
    const project = allTenants ? (param(q, 'tenant_id') ?? param(q, 'project_id')) : c.projectId;
    const records = await gw.instances.list(project === undefined ? {} : { projectId: project });
    const admin = allowed(c, 'os_compute_api:os-extended-server-attributes');
    const mv = request.microversion;
    const sorted = filterServers(records, filtersOf(q, admin)).sort(
      (a, b) => b.createdAt.localeCompare(a.createdAt) || b.uuid.localeCompare(a.uuid),
    );
    const { page, more } = paginate(sorted, (i) => i.uuid, q, gw.config.maxListLimit);
    const base = baseUrl(gw.config.publicUrl, request);
    const hosts = detail ? await hostsFor(gw, request, c, page) : undefined;
    return {
      servers: page.map((i) => (detail ? serverDetail(i, base, { admin, mv, hosts }) : serverSummary(i, base))),
      ...pageLinks('servers', base, detail ? 'servers/detail' : 'servers', q, page[page.length - 1]?.uuid, more),
    };
  }

  app.get('/servers', (request) => list(request, false));
  app.get('/servers/detail', (request) => list(request, true));

  app.get<{ Params: { id: string } }>('/servers/:id', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:servers:show');
    const rec = await loadServer(gw, c, request.params.id);
    const admin = allowed(c, 'os_compute_api:os-extended-server-attributes');
    const hosts = await hostsFor(gw, request, c, [rec]);
    return {
      server: serverDetail(rec, baseUrl(gw.config.publicUrl, request), { admin, mv: request.microversion, hosts }),
    };
  });

  app.put<{ Params: { id: string }; Body: UpdateBody }>(
    '/servers/:id',
    { schema: { body: updateSchema } },
    async (request) => {
      const c = caller(request);
      enforce(c, 'os_compute_api:servers:update');
      checkDescription(request, request.body.server);
      const rec = await loadServer(gw, c, request.params.id);
      const { name, description, accessIPv4, accessIPv6 } = request.body.server;
      const patch = {
        ...(name !== undefined ? { name } : {}),
        // null clears it (Nova's "remove description").
        ...(description !== undefined ? { description } : {}),
        ...(accessIPv4 !== undefined ? { accessIPv4 } : {}),
        ...(accessIPv6 !== undefined ? { accessIPv6 } : {}),
      };
      const updated = await updateServer(gw, rec, patch);
      const admin = allowed(c, 'os_compute_api:os-extended-server-attributes');
      // Below 2.75 Nova answers an update with the base keys only.
      return {
        server: serverBase(updated, baseUrl(gw.config.publicUrl, request), { admin, mv: request.microversion }),
      };
    },
  );

  app.delete<{ Params: { id: string } }>('/servers/:id', async (request, reply) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:servers:delete');
    await gw.operations.delete(await loadServer(gw, c, request.params.id), actionContext(request, c));
    return reply.code(204).send();
  });
}
