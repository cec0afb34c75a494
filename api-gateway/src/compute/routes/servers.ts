// /servers: create (202, then the build runs in the background), list and detail (own project;
// all_tenants for admins; filters and pages), show, update (the name and access IPs; from 2.19
// the description) and delete (204, then the delete runs in the background). Show and detail
// carry host_status from 2.16 for whom its policy allows.
import { randomBytes, randomUUID } from 'node:crypto';
import {
  INSTANCE_FIELDS,
  PowerState,
  TaskState,
  VmState,
  getImage,
  listHosts,
  nextInstanceId,
  readHosts,
  type HostState,
  type ImageRecord,
  type InstanceRecord,
} from '@hypernova/cluster-state';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { badRequest, forbidden, notFound } from '../../http/errors.js';
import { flag, paginate, param, queryOf, type Query } from '../../http/query.js';
import { UUID_PATTERN, isUuid } from '../../http/validation.js';
import { caller } from '../../identity/auth.js';
import { allowed, enforce, visibleImage, type Caller } from '../../policy.js';
import type { Flavor } from '../flavors.js';
import type { ActionContext } from '../instance-actions.js';
import type { ServerGroup } from '../server-groups.js';
import { vmStatesForStatus } from '../state-machine.js';
import { pageLinks, resourceLinks } from '../views/links.js';
import { serverBase, serverDetail, serverSummary } from '../views/servers.js';

const nameSchema = { type: 'string', minLength: 1, maxLength: 255, pattern: '^\\S([\\s\\S]*\\S)?$' };
/** Nova's parameter_types.description (2.19): null, or up to 255 printable characters (no control or line/paragraph separators). */
const descriptionSchema = {
  type: ['string', 'null'],
  minLength: 0,
  maxLength: 255,
  pattern: '^[^\\p{C}\\p{Zl}\\p{Zp}]*$',
};
const countSchema = { type: ['integer', 'string'], pattern: '^[0-9]+$', minimum: 1 };
const hintsSchema = {
  type: 'object',
  properties: { group: { type: 'string', pattern: UUID_PATTERN } },
};

const createSchema = {
  type: 'object',
  required: ['server'],
  additionalProperties: false,
  properties: {
    server: {
      type: 'object',
      required: ['name', 'flavorRef'],
      additionalProperties: false,
      properties: {
        name: nameSchema,
        description: descriptionSchema,
        imageRef: { type: 'string', maxLength: 255 },
        flavorRef: { type: ['string', 'integer'], minLength: 1, maxLength: 255 },
        networks: {
          anyOf: [
            { type: 'string', enum: ['auto', 'none'] },
            {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  uuid: { type: 'string' },
                  port: { type: ['string', 'null'] },
                  fixed_ip: { type: 'string' },
                  tag: { type: 'string' },
                },
              },
            },
          ],
        },
        min_count: countSchema,
        max_count: countSchema,
        return_reservation_id: { type: ['boolean', 'string'] },
        availability_zone: { type: 'string', minLength: 1, maxLength: 255 },
        key_name: { type: 'string', minLength: 1, maxLength: 255 },
        metadata: {
          type: 'object',
          propertyNames: { minLength: 1, maxLength: 255 },
          additionalProperties: { type: 'string', maxLength: 255 },
        },
        user_data: { type: 'string', maxLength: 65535 },
        accessIPv4: { type: 'string', format: 'ipv4' },
        accessIPv6: { type: 'string', format: 'ipv6' },
        config_drive: { type: ['boolean', 'string'] },
        adminPass: { type: 'string', maxLength: 255 },
        security_groups: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
        'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
      },
    },
    'os:scheduler_hints': hintsSchema,
    'OS-SCH-HNT:scheduler_hints': hintsSchema,
  },
} as const;

interface CreateBody {
  server: {
    name: string;
    description?: string | null;
    imageRef?: string;
    flavorRef: string | number;
    networks?: 'auto' | 'none' | { uuid?: string; port?: string | null }[];
    min_count?: number | string;
    max_count?: number | string;
    return_reservation_id?: boolean | string;
    availability_zone?: string;
    key_name?: string;
    metadata?: Record<string, string>;
    user_data?: string;
    accessIPv4?: string;
    accessIPv6?: string;
    config_drive?: boolean | string;
    adminPass?: string;
  };
  'os:scheduler_hints'?: { group?: string };
  'OS-SCH-HNT:scheduler_hints'?: { group?: string };
}

const updateSchema = {
  type: 'object',
  required: ['server'],
  additionalProperties: false,
  properties: {
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        name: nameSchema,
        description: descriptionSchema,
        accessIPv4: { type: 'string', format: 'ipv4' },
        accessIPv6: { type: 'string', format: 'ipv6' },
        'OS-DCF:diskConfig': { type: 'string', enum: ['AUTO', 'MANUAL'] },
      },
    },
  },
} as const;

interface UpdateBody {
  server: { name?: string; description?: string | null; accessIPv4?: string; accessIPv6?: string };
}

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

/** The id at the end of an id or an href (Nova's get_id_from_href). */
const idFromHref = (ref: string) => ref.replace(/\/+$/, '').split('/').pop() ?? '';

const truthy = (v: unknown) => v === true || (typeof v === 'string' && /^(1|t|true|on|y|yes)$/i.test(v));

/** A DNS label from the display name, as Nova sanitizes hostnames. */
function hostnameOf(name: string): string {
  const h = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return h || 'server';
}

/** Who an instance action is recorded for: the request id the client got back, and the caller. */
export function actionContext(request: FastifyRequest, c: Caller): ActionContext {
  return { requestId: request.id, userId: c.userId, projectId: c.projectId };
}

/** The server if the caller may see it (its project's, or any for admins); Nova's 404 otherwise. */
export async function loadServer(gw: Gateway, c: Caller, id: string): Promise<InstanceRecord> {
  const rec = isUuid(id) ? await gw.instances.get(id.toLowerCase()) : undefined;
  if (!rec || (!c.isAdmin && rec.projectId !== c.projectId)) throw notFound(`Instance ${id} could not be found.`);
  return rec;
}

/** ?name= matches as a substring, with ^ and $ anchors honoured (Nova matches a regex; arbitrary user regexes could stall the gateway). */
function nameMatches(name: string, pattern: string): boolean {
  const start = pattern.startsWith('^');
  const end = pattern.endsWith('$') && pattern.length > (start ? 1 : 0);
  const core = pattern.slice(start ? 1 : 0, end ? -1 : undefined);
  if (start && end) return name === core;
  if (start) return name.startsWith(core);
  if (end) return name.endsWith(core);
  return name.includes(core);
}

function filterServers(list: InstanceRecord[], q: Query, admin: boolean): InstanceRecord[] {
  const name = param(q, 'name');
  const status = param(q, 'status');
  const host = admin ? param(q, 'host') : undefined;
  const image = param(q, 'image');
  const flavor = param(q, 'flavor');
  const reservation = param(q, 'reservation_id');
  const since = param(q, 'changes-since');
  const sinceMs = since === undefined ? undefined : Date.parse(since);
  if (sinceMs !== undefined && Number.isNaN(sinceMs)) throw badRequest(`Invalid filter field: changes-since.`);
  const states = status === undefined ? undefined : (vmStatesForStatus(status) ?? []);
  return list.filter(
    (i) =>
      (name === undefined || nameMatches(i.name, name)) &&
      (states === undefined || states.includes(i.vmState)) &&
      (host === undefined || i.host === host) &&
      (image === undefined || i.imageId === idFromHref(image)) &&
      (flavor === undefined || i.flavor.id === idFromHref(flavor)) &&
      (reservation === undefined || i.reservationId === reservation) &&
      (sinceMs === undefined || Date.parse(i.updatedAt) >= sinceMs),
  );
}

export function registerServerRoutes(app: FastifyInstance, gw: Gateway): void {
  async function resolveFlavor(ref: string | number): Promise<Flavor> {
    const id = idFromHref(String(ref));
    const f = await gw.flavors.get(id);
    if (!f) throw badRequest(`Flavor ${id} could not be found.`);
    if (f.disabled) throw badRequest('Flavor is disabled.');
    return f;
  }

  async function resolveImage(ref: string | undefined, c: Caller, flavor: Flavor): Promise<ImageRecord> {
    if (!ref) throw badRequest('Missing imageRef attribute');
    const id = idFromHref(ref);
    if (!isUuid(id)) throw badRequest('Invalid imageRef provided.');
    const image = await getImage(gw.redis, id.toLowerCase());
    if (!image || !visibleImage(image, c)) throw badRequest(`Image ${id} could not be found.`);
    if (image.status !== 'active') throw badRequest(`Image ${id} is not active.`);
    if (image.minRamMb > flavor.ramMb) throw badRequest("Flavor's memory is too small for requested image.");
    if (image.minDiskGb > flavor.diskGb) throw badRequest("Flavor's disk is too small for requested image.");
    return image;
  }

  async function resolveGroup(body: CreateBody, c: Caller): Promise<ServerGroup | undefined> {
    const id = (body['os:scheduler_hints'] ?? body['OS-SCH-HNT:scheduler_hints'])?.group;
    if (id === undefined) return undefined;
    const g = await gw.serverGroups.get(id.toLowerCase());
    if (!g || (!c.isAdmin && g.projectId !== c.projectId)) throw badRequest(`Instance group ${id} could not be found.`);
    return g;
  }

  async function checkZone(zone: string | undefined): Promise<void> {
    if (zone === undefined) return;
    const zones = new Set((await listHosts(gw.redis)).map((h) => h.availabilityZone || 'nova'));
    if (!zones.has(zone)) throw badRequest(`The requested availability zone is not available`);
  }

  app.post<{ Body: CreateBody }>('/servers', { schema: { body: createSchema } }, async (request, reply) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:servers:create');
    const body = request.body;
    const s = body.server;
    checkDescription(request, s);
    const flavor = await resolveFlavor(s.flavorRef);
    const image = await resolveImage(s.imageRef, c, flavor);
    const group = await resolveGroup(body, c);
    await checkZone(s.availability_zone);
    if (Array.isArray(s.networks) && s.networks.length > 0) {
      const n = s.networks[0];
      throw badRequest(n.port ? `Port ${n.port} could not be found.` : `Network ${n.uuid ?? ''} could not be found.`);
    }
    if (s.key_name !== undefined && !(await gw.keypairs.get(c.userId, s.key_name)))
      throw badRequest('Invalid key_name provided.');
    const limits = await gw.quotas.limits(c.projectId);
    const metadata = s.metadata ?? {};
    if (limits.metadata_items >= 0 && Object.keys(metadata).length > limits.metadata_items) {
      throw forbidden(
        `Quota exceeded for metadata_items: Requested ${Object.keys(metadata).length}, but already used 0 of ${limits.metadata_items} metadata_items`,
      );
    }
    if (s.user_data !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(s.user_data.replace(/\s+/g, ''))) {
      throw badRequest('Userdata content cannot be decoded');
    }
    const minCount = Number(s.min_count ?? 1);
    const maxCount = Number(s.max_count ?? minCount);
    if (minCount < 1 || maxCount < 1) throw badRequest('min_count and max_count must be at least 1');
    if (minCount > maxCount) throw badRequest('min_count must be <= max_count');

    const count = maxCount;
    const now = new Date().toISOString();
    const reservationId = `r-${randomBytes(4).toString('hex')}`;
    const zone = s.availability_zone ?? '';
    const records: InstanceRecord[] = [];
    for (let index = 0; index < count; index++) {
      const name = count > 1 ? `${s.name}-${index + 1}` : s.name;
      records.push({
        uuid: randomUUID(),
        id: await nextInstanceId(gw.redis),
        name,
        projectId: c.projectId,
        userId: c.userId,
        flavor: {
          id: flavor.id,
          name: flavor.name,
          vcpus: flavor.vcpus,
          ramMb: flavor.ramMb,
          diskGb: flavor.diskGb,
          ephemeralGb: flavor.ephemeralGb,
          swapMb: flavor.swapMb,
          extraSpecs: flavor.extraSpecs,
        },
        imageId: image.id,
        vmState: VmState.BUILDING,
        taskState: TaskState.SCHEDULING,
        powerState: PowerState.POWER_STATE_NOSTATE,
        host: '',
        node: '',
        availabilityZone: zone,
        requestedAvailabilityZone: zone,
        keyName: s.key_name ?? '',
        metadata,
        createdAt: now,
        updatedAt: now,
        launchedAt: '',
        terminatedAt: '',
        accessIPv4: s.accessIPv4 ?? '',
        accessIPv6: s.accessIPv6 ?? '',
        configDrive: truthy(s.config_drive) ? 'True' : '',
        reservationId,
        launchIndex: index,
        hostname: hostnameOf(name),
        userData: s.user_data ?? '',
        serverGroup: group?.id ?? '',
        progress: 0,
        // Nova: the request's description from 2.19 (null when absent), the name before.
        description: request.microversion.atLeast(19) ? (s.description ?? null) : s.name,
      });
    }
    // As many as the quota allows between min and max, as Nova does; a lone survivor of a
    // multi-create keeps the plain name.
    const created = await gw.quotas.createInstances(
      records,
      flavor,
      minCount,
      count > 1 ? { [INSTANCE_FIELDS.name]: s.name, [INSTANCE_FIELDS.hostname]: hostnameOf(s.name) } : {},
    );
    const ctx = actionContext(request, c);
    for (const rec of created) {
      gw.instances.announce(rec);
      gw.builder.start({ instance: rec, image, group, action: await gw.actions.start(rec.uuid, 'create', ctx) });
    }

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
    const sorted = filterServers(records, q, admin).sort(
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
      // The update applies whatever the state, as in Nova, unless the server is gone or going.
      const updated = await gw.instances.update(rec.uuid, patch, {
        vmState: Object.values(VmState).filter((v) => v !== VmState.DELETED),
      });
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
