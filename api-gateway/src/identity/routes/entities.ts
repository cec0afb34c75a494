// The Keystone admin CRUD API for domains, projects, users and roles: create (201), list (with
// name/domain_id/enabled filters), show, update (PATCH) and delete (204). The four resources
// share one implementation and differ only in their body schema, view and how a body becomes an
// entity, so `openstack project create`, `user create`, `role create` etc. work the same way.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { ApiError, badRequest, forbidden, notFound } from '../../http/errors.js';
import { param, queryOf, type Query } from '../../http/query.js';
import { enforce, type Caller } from '../../policy.js';
import { caller } from '../auth.js';
import { hashPassword } from '../passwords.js';
import { DEFAULT_DOMAIN_ID, type Domain, type Project, type Role, type Table, type User } from '../store.js';
import { collection, domainView, projectView, roleView, userView } from '../views.js';

type Body = Record<string, unknown>;

interface EntitySpec<T extends { id: string; name: string }> {
  /** URL and collection name (projects) and body key (project). */
  plural: string;
  singular: string;
  table: (gw: Gateway) => Table<T>;
  view: (e: T, base: string) => object;
  /** Properties of the body object; `name` is required on create. */
  properties: Record<string, object>;
  /** A new entity from a create body (validated against `properties`). */
  create: (body: Body, gw: Gateway) => Promise<Omit<T, 'id'>>;
  /** The entity after a PATCH body. */
  update: (e: T, body: Body) => Promise<T>;
  /** Stores the updated entity when more than the table write is due (revoking a user's tokens). */
  save?: (before: T, after: T, gw: Gateway) => Promise<T>;
  matches?: (e: T, q: Query) => boolean;
  /** Whether a caller may read this entity without the admin rule (Keystone: its own project, itself). */
  ownedBy?: (e: T, c: Caller) => boolean;
  beforeDelete?: (e: T, gw: Gateway) => Promise<void>;
  remove: (e: T, gw: Gateway) => Promise<void>;
}

const str = (max: number) => ({ type: 'string', maxLength: max });
const nullableStr = (max: number) => ({ type: ['string', 'null'], maxLength: max });
const name = { type: 'string', minLength: 1, maxLength: 255, pattern: '\\S' };
const common = {
  name,
  description: nullableStr(65535),
  enabled: { type: 'boolean' },
  options: { type: 'object' },
  tags: { type: 'array' },
};

const text = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
const bool = (v: unknown, fallback: boolean) => (typeof v === 'boolean' ? v : fallback);

const enabledMatches = (e: { enabled: boolean }, q: Query) => {
  const enabled = param(q, 'enabled');
  return enabled === undefined || e.enabled === !/^(0|false|no)$/i.test(enabled);
};
const domainMatches = (e: { domainId: string }, q: Query) => {
  const d = param(q, 'domain_id');
  return d === undefined || e.domainId === d;
};

async function domainOf(body: Body, gw: Gateway): Promise<string> {
  const id = text(body.domain_id, DEFAULT_DOMAIN_ID);
  if (!(await gw.identity.domains.get(id))) throw badRequest(`Could not find domain: ${id}.`);
  return id;
}

const DOMAINS: EntitySpec<Domain> = {
  plural: 'domains',
  singular: 'domain',
  table: (gw) => gw.identity.domains,
  view: domainView,
  properties: common,
  create: async (b) => ({
    name: b.name as string,
    description: text(b.description, ''),
    enabled: bool(b.enabled, true),
  }),
  update: async (d, b) => ({
    ...d,
    name: text(b.name, d.name),
    description: text(b.description, d.description),
    enabled: bool(b.enabled, d.enabled),
  }),
  matches: enabledMatches,
  beforeDelete: async (d, gw) => {
    if (d.enabled) throw forbidden('Cannot delete a domain that is enabled, please disable it first.');
    const used =
      (await gw.identity.projects.list()).some((p) => p.domainId === d.id) ||
      (await gw.identity.users.list()).some((u) => u.domainId === d.id);
    if (used) throw new ApiError(409, `Domain ${d.id} still holds projects or users; delete them first.`);
  },
  remove: (d, gw) => gw.identity.domains.delete(d),
};

const PROJECTS: EntitySpec<Project> = {
  plural: 'projects',
  singular: 'project',
  table: (gw) => gw.identity.projects,
  view: projectView,
  properties: {
    ...common,
    domain_id: str(64),
    parent_id: nullableStr(64),
    is_domain: { type: 'boolean', enum: [false] },
  },
  create: async (b, gw) => ({
    name: b.name as string,
    domainId: await domainOf(b, gw),
    description: text(b.description, ''),
    enabled: bool(b.enabled, true),
  }),
  update: async (p, b) => ({
    ...p,
    name: text(b.name, p.name),
    description: text(b.description, p.description),
    enabled: bool(b.enabled, p.enabled),
  }),
  matches: (p, q) => enabledMatches(p, q) && domainMatches(p, q),
  ownedBy: (p, c) => p.id === c.projectId,
  remove: (p, gw) => gw.identity.deleteProject(p),
};

const USERS: EntitySpec<User> = {
  plural: 'users',
  singular: 'user',
  table: (gw) => gw.identity.users,
  view: userView,
  properties: {
    ...common,
    domain_id: str(64),
    password: { type: ['string', 'null'], maxLength: 4096 },
    default_project_id: nullableStr(64),
    email: nullableStr(255),
  },
  create: async (b, gw) => ({
    name: b.name as string,
    domainId: await domainOf(b, gw),
    enabled: bool(b.enabled, true),
    // A user created without a password cannot log in with one: an unmatchable hash.
    passwordHash: typeof b.password === 'string' ? await hashPassword(b.password) : '!',
    defaultProjectId: text(b.default_project_id, '') || undefined,
    email: text(b.email, '') || undefined,
    description: text(b.description, '') || undefined,
  }),
  update: async (u, b) => ({
    ...u,
    name: text(b.name, u.name),
    enabled: bool(b.enabled, u.enabled),
    passwordHash: typeof b.password === 'string' ? await hashPassword(b.password) : u.passwordHash,
    defaultProjectId:
      b.default_project_id === undefined ? u.defaultProjectId : text(b.default_project_id, '') || undefined,
    email: b.email === undefined ? u.email : text(b.email, '') || undefined,
    description: b.description === undefined ? u.description : text(b.description, '') || undefined,
  }),
  save: (before, after, gw) => gw.identity.updateUser(before, after),
  matches: (u, q) => enabledMatches(u, q) && domainMatches(u, q),
  ownedBy: (u, c) => u.id === c.userId,
  remove: (u, gw) => gw.identity.deleteUser(u),
};

const ROLES: EntitySpec<Role> = {
  plural: 'roles',
  singular: 'role',
  table: (gw) => gw.identity.roles,
  view: roleView,
  properties: { name, description: nullableStr(255), domain_id: { type: 'null' }, options: { type: 'object' } },
  create: async (b) => ({ name: b.name as string, description: text(b.description, '') }),
  update: async (r, b) => ({ ...r, name: text(b.name, r.name), description: text(b.description, r.description) }),
  remove: (r, gw) => gw.identity.deleteRole(r),
};

function register<T extends { id: string; name: string }>(
  app: FastifyInstance,
  gw: Gateway,
  spec: EntitySpec<T>,
): void {
  const { plural, singular } = spec;
  const table = spec.table(gw);
  const bodySchema = (required: string[]) => ({
    type: 'object',
    required: [singular],
    properties: { [singular]: { type: 'object', required, properties: spec.properties } },
  });
  const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } };

  async function find(id: string): Promise<T> {
    const e = await table.get(id);
    if (!e) throw notFound(`Could not find ${singular}: ${id}.`);
    return e;
  }

  app.post<{ Body: Record<string, Body> }>(
    `/${plural}`,
    { schema: { body: bodySchema(['name']) } },
    async (request, reply) => {
      enforce(caller(request), `identity:create_${singular}`);
      const created = await table.create(await spec.create(request.body[singular], gw));
      void reply.code(201);
      return { [singular]: spec.view(created, baseUrl(gw.config.publicUrl, request)) };
    },
  );

  app.get(`/${plural}`, async (request) => {
    enforce(caller(request), `identity:list_${plural}`);
    const q = queryOf(request);
    const wanted = param(q, 'name');
    const base = baseUrl(gw.config.publicUrl, request);
    const items = (await table.list()).filter(
      (e) => (wanted === undefined || e.name === wanted) && (spec.matches?.(e, q) ?? true),
    );
    return collection(
      plural,
      items.map((e) => spec.view(e, base)),
      `${base}/identity/v3/${plural}`,
    );
  });

  app.get<{ Params: { id: string } }>(`/${plural}/:id`, { schema: { params: idParams } }, async (request) => {
    const c = caller(request);
    const own = spec.ownedBy ? await table.get(request.params.id) : undefined;
    if (!own || !spec.ownedBy?.(own, c)) enforce(c, `identity:get_${singular}`);
    return { [singular]: spec.view(own ?? (await find(request.params.id)), baseUrl(gw.config.publicUrl, request)) };
  });

  app.patch<{ Params: { id: string }; Body: Record<string, Body> }>(
    `/${plural}/:id`,
    { schema: { params: idParams, body: bodySchema([]) } },
    async (request) => {
      enforce(caller(request), `identity:update_${singular}`);
      const before = await find(request.params.id);
      const updated = await spec.update(before, request.body[singular]);
      const after = await (spec.save ? spec.save(before, updated, gw) : table.update(before, updated));
      return { [singular]: spec.view(after, baseUrl(gw.config.publicUrl, request)) };
    },
  );

  app.delete<{ Params: { id: string } }>(`/${plural}/:id`, { schema: { params: idParams } }, async (request, reply) => {
    enforce(caller(request), `identity:delete_${singular}`);
    const e = await find(request.params.id);
    await spec.beforeDelete?.(e, gw);
    await spec.remove(e, gw);
    return reply.code(204).send();
  });
}

export function registerEntityRoutes(app: FastifyInstance, gw: Gateway): void {
  register(app, gw, DOMAINS);
  register(app, gw, PROJECTS);
  register(app, gw, USERS);
  register(app, gw, ROLES);
}
