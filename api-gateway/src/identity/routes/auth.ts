// /identity/v3/auth: password authentication issuing project-scoped tokens (201 with
// X-Subject-Token), token validation (GET/HEAD), revocation (DELETE), the caller's projects and
// catalog. Users, projects and domains are found by id or by name (+ domain id or name).
// Password logins are throttled (lockout.ts), and every refusal is the same 401 whether the user
// exists, is disabled, is locked out or gave a wrong password.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { ApiError, badRequest, forbidden, notFound, unauthorized } from '../../http/errors.js';
import { param, queryOf } from '../../http/query.js';
import { caller } from '../auth.js';
import { buildCatalog } from '../catalog.js';
import { hashPassword, needsRehash, verifyPassword } from '../passwords.js';
import type { Project, User } from '../store.js';
import type { TokenContext } from '../tokens.js';
import { collection, projectView, tokenView } from '../views.js';

interface Ref {
  id?: string;
  name?: string;
  domain?: { id?: string; name?: string };
}

interface AuthBody {
  auth: {
    identity: {
      methods: string[];
      password?: { user: Ref & { password: string } };
      token?: { id: string };
    };
    scope?: 'unscoped' | { project?: Ref; domain?: Ref; system?: object };
  };
}

const refSchema = {
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 64 },
    name: { type: 'string', maxLength: 255 },
    domain: {
      type: 'object',
      properties: { id: { type: 'string', maxLength: 64 }, name: { type: 'string', maxLength: 255 } },
    },
  },
} as const;

const authSchema = {
  type: 'object',
  required: ['auth'],
  properties: {
    auth: {
      type: 'object',
      required: ['identity'],
      properties: {
        identity: {
          type: 'object',
          required: ['methods'],
          properties: {
            methods: { type: 'array', minItems: 1, items: { type: 'string' } },
            password: {
              type: 'object',
              required: ['user'],
              properties: {
                user: {
                  ...refSchema,
                  required: ['password'],
                  properties: { ...refSchema.properties, password: { type: 'string', maxLength: 4096 } },
                },
              },
            },
            token: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 512 } } },
          },
        },
        scope: {
          anyOf: [
            { type: 'string', enum: ['unscoped'] },
            { type: 'object', properties: { project: refSchema, domain: refSchema, system: { type: 'object' } } },
          ],
        },
      },
    },
  },
} as const;

/** A hash of a random password, verified for refused logins so timing does not reveal who exists. */
let decoy: Promise<string> | undefined;
const decoyHash = () => (decoy ??= hashPassword(randomBytes(16).toString('base64url')));

export function registerAuthRoutes(app: FastifyInstance, gw: Gateway): void {
  const { identity, tokens } = gw;

  async function findUser(ref: Ref): Promise<User | undefined> {
    if (ref.id !== undefined) return identity.users.get(ref.id);
    if (ref.name === undefined) throw badRequest('Expecting to find id or name in user.');
    if (!ref.domain) throw badRequest('Expecting to find domain in user.');
    const domain = await identity.resolveDomain(ref.domain);
    return domain ? identity.users.findByName(domain.id, ref.name) : undefined;
  }

  async function findProject(ref: Ref): Promise<Project | undefined> {
    if (ref.id !== undefined) return identity.projects.get(ref.id);
    if (ref.name === undefined) throw badRequest('Expecting to find id or name in project.');
    if (!ref.domain) throw badRequest('Expecting to find domain in project.');
    const domain = await identity.resolveDomain(ref.domain);
    return domain ? identity.projects.findByName(domain.id, ref.name) : undefined;
  }

  async function passwordLogin(ref: Ref & { password: string }, address: string): Promise<User> {
    const user = await findUser(ref);
    // Unknown names are throttled like users, under what they were asked by.
    const subject = user?.id ?? JSON.stringify(['ref', ref.id, ref.name, ref.domain?.id, ref.domain?.name]);
    const locked = await gw.logins.locked(subject, address);
    const verified = await verifyPassword(ref.password, user && !locked ? user.passwordHash : await decoyHash());
    if (locked || !user?.enabled || !verified) {
      await gw.logins.failed(locked ? undefined : subject, address);
      throw unauthorized();
    }
    await gw.logins.succeeded(subject);
    // Hashes made with older cost parameters are upgraded while the password is at hand; the
    // plain update keeps the user's tokens (a new hash of the same password is no credential change).
    if (needsRehash(user.passwordHash))
      return identity.users.update(user, { ...user, passwordHash: await hashPassword(ref.password) });
    return user;
  }

  async function authenticateUser(
    body: AuthBody['auth']['identity'],
    address: string,
  ): Promise<{ user: User; methods: string[]; from?: TokenContext }> {
    if (body.methods.includes('password') && body.password) {
      return { user: await passwordLogin(body.password.user, address), methods: ['password'] };
    }
    if (body.methods.includes('token') && body.token) {
      const ctx = await tokens.validate(body.token.id);
      if (!ctx) throw unauthorized();
      return { user: ctx.user, methods: ctx.methods, from: ctx };
    }
    throw unauthorized('Attempted to authenticate with an unsupported method.');
  }

  async function scopeProject(user: User, scope: AuthBody['auth']['scope']): Promise<Project | undefined> {
    if (scope === 'unscoped') return undefined;
    if (scope?.domain || scope?.system) throw badRequest('Only project-scoped and unscoped tokens are supported.');
    if (!scope?.project) {
      // No scope: Keystone scopes to the user's default project when it has access to it.
      const p = user.defaultProjectId ? await identity.projects.get(user.defaultProjectId) : undefined;
      return p?.enabled && (await identity.effectiveRoles(p.id, user.id)).length > 0 ? p : undefined;
    }
    const project = await findProject(scope.project);
    if (!project?.enabled) throw unauthorized();
    if ((await identity.effectiveRoles(project.id, user.id)).length === 0) {
      throw unauthorized(`User ${user.id} has no access to project ${project.id}`);
    }
    return project;
  }

  const catalogFor = (ctx: TokenContext, base: string) =>
    ctx.project ? buildCatalog(base, gw.config.region) : undefined;

  app.post<{ Body: AuthBody }>(
    '/auth/tokens',
    { schema: { body: authSchema }, config: { public: true } },
    async (request, reply) => {
      const { user, methods, from } = await authenticateUser(request.body.auth.identity, request.ip);
      const project = await scopeProject(user, request.body.auth.scope);
      const ctx = await tokens.issue(user, project, methods, from);
      void reply.code(201).header('X-Subject-Token', ctx.token);
      return tokenView(ctx, catalogFor(ctx, baseUrl(gw.config.publicUrl, request)));
    },
  );

  async function subject(headers: Record<string, string | string[] | undefined>): Promise<TokenContext> {
    const raw = headers['x-subject-token'];
    const token = Array.isArray(raw) ? raw[0] : raw;
    if (!token) throw new ApiError(400, 'X-Subject-Token header is required.');
    const ctx = await tokens.validate(token);
    if (!ctx) throw notFound(`Could not find token: ${token.slice(0, 16)}.`);
    return ctx;
  }

  app.get('/auth/tokens', async (request, reply) => {
    const c = caller(request);
    const ctx = await subject(request.headers);
    if (!c.isAdmin && ctx.user.id !== c.userId)
      throw forbidden('You are not authorized to perform the requested action: identity:validate_token.');
    void reply.header('X-Subject-Token', ctx.token);
    const nocatalog = param(queryOf(request), 'nocatalog') !== undefined;
    return tokenView(ctx, nocatalog ? undefined : catalogFor(ctx, baseUrl(gw.config.publicUrl, request)));
  });

  app.delete('/auth/tokens', async (request, reply) => {
    const c = caller(request);
    const ctx = await subject(request.headers);
    if (!c.isAdmin && ctx.user.id !== c.userId)
      throw forbidden('You are not authorized to perform the requested action: identity:revoke_token.');
    await tokens.revoke(ctx.token);
    return reply.code(204).send();
  });

  app.get('/auth/projects', async (request) => {
    const base = baseUrl(gw.config.publicUrl, request);
    const projects = await identity.projectsOf(caller(request).userId);
    return collection(
      'projects',
      projects.filter((p) => p.enabled).map((p) => projectView(p, base)),
      `${base}/identity/v3/auth/projects`,
    );
  });

  app.get('/auth/catalog', async (request) => {
    const base = baseUrl(gw.config.publicUrl, request);
    return {
      catalog: buildCatalog(base, gw.config.region),
      links: { self: `${base}/identity/v3/auth/catalog`, previous: null, next: null },
    };
  });
}
