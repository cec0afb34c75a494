// os-server-groups: create (policies ["affinity"] or ["anti-affinity"]; from 2.15 also
// "soft-affinity" and "soft-anti-affinity", which the scheduler weighs instead of filtering on),
// list (own project; all_projects for admins), show and delete; 2.13 adds project_id and user_id
// to the bodies. Members are the servers created with the group's scheduler hint.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { badRequest, notFound } from '../../http/errors.js';
import { flag, paginate, queryOf } from '../../http/query.js';
import { isUuid } from '../../http/validation.js';
import { caller } from '../../identity/auth.js';
import { enforce, inScope, type Caller } from '../../policy.js';
import type { GroupPolicyName, ServerGroup } from '../server-groups.js';
import { serverGroupView } from '../views/server-groups.js';

const HARD: readonly GroupPolicyName[] = ['affinity', 'anti-affinity'];
const SOFT: readonly GroupPolicyName[] = ['soft-affinity', 'soft-anti-affinity'];

/** Every policy of any microversion; the handler refuses the soft ones below 2.15. */
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
        policies: { type: 'array', minItems: 1, maxItems: 1, items: { type: 'string', enum: [...HARD, ...SOFT] } },
      },
    },
  },
} as const;

export function registerServerGroupRoutes(app: FastifyInstance, gw: Gateway): void {
  async function members(g: ServerGroup): Promise<string[]> {
    return (await gw.instances.list({ projectId: g.projectId }))
      .filter((i) => i.serverGroup === g.id)
      .map((i) => i.uuid);
  }

  async function find(id: string, c: Caller): Promise<ServerGroup> {
    const g = isUuid(id) ? await gw.serverGroups.get(id.toLowerCase()) : undefined;
    if (!g || !inScope(c, g.projectId)) throw notFound(`Instance group ${id} could not be found.`);
    return g;
  }

  app.post<{ Body: { server_group: { name: string; policies: GroupPolicyName[] } } }>(
    '/os-server-groups',
    { schema: { body: createSchema } },
    async (request) => {
      const c = caller(request);
      enforce(c, 'os_compute_api:os-server-groups:create');
      const mv = request.microversion;
      const { name, policies } = request.body.server_group;
      if (!mv.atLeast(15) && !HARD.includes(policies[0])) {
        throw badRequest(
          `Invalid input for field/attribute 0. Value: ${JSON.stringify(policies[0])}. ${JSON.stringify(policies[0])} is not one of ${JSON.stringify(HARD)}`,
        );
      }
      const limits = await gw.quotas.limits(c.projectId);
      const g = await gw.serverGroups.create(
        { name, policy: policies[0], projectId: c.projectId, userId: c.userId },
        limits.server_groups,
      );
      return { server_group: serverGroupView(g, [], mv) };
    },
  );

  app.get('/os-server-groups', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-server-groups:index');
    const q = queryOf(request);
    const all = c.isAdmin && flag(q, 'all_projects');
    const groups = (await gw.serverGroups.list()).filter((g) => all || g.projectId === c.projectId);
    const { page } = paginate(groups, (g) => g.id, q, gw.config.maxListLimit);
    return {
      server_groups: await Promise.all(
        page.map(async (g) => serverGroupView(g, await members(g), request.microversion)),
      ),
    };
  });

  app.get<{ Params: { id: string } }>('/os-server-groups/:id', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-server-groups:show');
    const g = await find(request.params.id, c);
    return { server_group: serverGroupView(g, await members(g), request.microversion) };
  });

  app.delete<{ Params: { id: string } }>('/os-server-groups/:id', async (request, reply) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-server-groups:delete');
    await gw.serverGroups.delete((await find(request.params.id, c)).id);
    return reply.code(204).send();
  });
}
