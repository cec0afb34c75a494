// os-server-groups at 2.1: create (policies ["affinity"] or ["anti-affinity"]), list (own
// project; all_projects for admins), show and delete. Members are the servers created with the
// group's scheduler hint.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { notFound } from '../../http/errors.js';
import { flag, paginate, queryOf } from '../../http/query.js';
import { isUuid } from '../../http/validation.js';
import { caller } from '../../identity/auth.js';
import { enforce, type Caller } from '../../policy.js';
import type { GroupPolicyName, ServerGroup } from '../server-groups.js';
import { serverGroupView } from '../views/server-groups.js';

const createSchema = {
  type: 'object',
  required: ['server_group'],
  additionalProperties: false,
  properties: {
    server_group: {
      type: 'object',
      required: ['name', 'policies'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^\\S([\\s\\S]*\\S)?$' },
        policies: { type: 'array', minItems: 1, maxItems: 1, items: { type: 'string', enum: ['affinity', 'anti-affinity'] } },
      },
    },
  },
} as const;

export function registerServerGroupRoutes(app: FastifyInstance, gw: Gateway): void {
  async function members(g: ServerGroup): Promise<string[]> {
    return (await gw.instances.list({ projectId: g.projectId })).filter((i) => i.serverGroup === g.id).map((i) => i.uuid);
  }

  async function find(id: string, c: Caller): Promise<ServerGroup> {
    const g = isUuid(id) ? await gw.serverGroups.get(id.toLowerCase()) : undefined;
    if (!g || (!c.isAdmin && g.projectId !== c.projectId)) throw notFound(`Instance group ${id} could not be found.`);
    return g;
  }

  app.post<{ Body: { server_group: { name: string; policies: GroupPolicyName[] } } }>(
    '/os-server-groups',
    { schema: { body: createSchema } },
    async (request) => {
      const c = caller(request);
      enforce(c, 'os_compute_api:os-server-groups:create');
      const { name, policies } = request.body.server_group;
      const limits = await gw.quotas.limits(c.projectId);
      const g = await gw.serverGroups.create({ name, policy: policies[0], projectId: c.projectId, userId: c.userId }, limits.server_groups);
      return { server_group: serverGroupView(g, []) };
    },
  );

  app.get('/os-server-groups', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-server-groups:index');
    const q = queryOf(request);
    const all = c.isAdmin && flag(q, 'all_projects');
    const groups = (await gw.serverGroups.list()).filter((g) => all || g.projectId === c.projectId);
    const { page } = paginate(groups, (g) => g.id, q, gw.config.maxListLimit);
    return { server_groups: await Promise.all(page.map(async (g) => serverGroupView(g, await members(g)))) };
  });

  app.get<{ Params: { id: string } }>('/os-server-groups/:id', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-server-groups:show');
    const g = await find(request.params.id, c);
    return { server_group: serverGroupView(g, await members(g)) };
  });

  app.delete<{ Params: { id: string } }>('/os-server-groups/:id', async (request, reply) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-server-groups:delete');
    await gw.serverGroups.delete((await find(request.params.id, c)).id);
    return reply.code(204).send();
  });
}
