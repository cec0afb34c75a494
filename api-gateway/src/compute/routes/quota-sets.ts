// os-quota-sets: a project's quotas (show, detail with usage, the defaults), changed and reset by
// admins. Lowering a limit below what the project uses needs "force", as in Nova.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { badRequest } from '../../http/errors.js';
import { caller } from '../../identity/auth.js';
import { enforce, enforceOn } from '../../policy.js';
import { NETWORK_QUOTAS, QUOTA_RESOURCES, usageOf, type QuotaLimits, type QuotaResource } from '../quota.js';
import { quotaSetDetail, quotaSetView } from '../views/quota-sets.js';

const limitSchema = { type: ['integer', 'string'], pattern: '^-?[0-9]+$', minimum: -1, maximum: 2147483647 };

const updateSchema = {
  type: 'object',
  required: ['quota_set'],
  additionalProperties: false,
  properties: {
    quota_set: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ...Object.fromEntries([...QUOTA_RESOURCES, ...Object.keys(NETWORK_QUOTAS)].map((r) => [r, limitSchema])),
        force: { type: ['boolean', 'string'], enum: [true, false, 'True', 'False', 'true', 'false'] },
      },
    },
  },
} as const;

export function registerQuotaSetRoutes(app: FastifyInstance, gw: Gateway): void {
  async function inUse(projectId: string): Promise<Partial<QuotaLimits>> {
    const usage = usageOf(await gw.instances.list({ projectId }));
    return { ...usage, server_groups: await gw.serverGroups.countOf(projectId) };
  }

  app.get<{ Params: { id: string } }>('/os-quota-sets/:id', async (request) => {
    enforceOn(caller(request), 'os_compute_api:os-quota-sets:show', request.params.id);
    return { quota_set: quotaSetView(await gw.quotas.limits(request.params.id), request.params.id) };
  });

  app.get<{ Params: { id: string } }>('/os-quota-sets/:id/detail', async (request) => {
    enforceOn(caller(request), 'os_compute_api:os-quota-sets:detail', request.params.id);
    const id = request.params.id;
    return { quota_set: quotaSetDetail(await gw.quotas.limits(id), await inUse(id), id) };
  });

  app.get<{ Params: { id: string } }>('/os-quota-sets/:id/defaults', async (request) => {
    enforce(caller(request), 'os_compute_api:os-quota-sets:defaults');
    return { quota_set: quotaSetView(gw.quotas.defaults(), request.params.id) };
  });

  app.put<{ Params: { id: string }; Body: { quota_set: Record<string, number | string | boolean> } }>(
    '/os-quota-sets/:id',
    { schema: { body: updateSchema } },
    async (request) => {
      enforce(caller(request), 'os_compute_api:os-quota-sets:update');
      const id = request.params.id;
      if (!(await gw.identity.projects.get(id))) throw badRequest(`Project ID ${id} is not a valid project.`);
      const { force, ...values } = request.body.quota_set;
      const forced = force === true || String(force).toLowerCase() === 'true';
      const wanted: Partial<QuotaLimits> = {};
      for (const [k, v] of Object.entries(values)) {
        const n = Number(v);
        // The schema checks a string's digits but only a number's minimum.
        if (n < -1 || n > 2147483647)
          throw badRequest(
            `Invalid input for field/attribute ${k}. Value: ${JSON.stringify(v)}. ${n} is out of range -1 .. 2147483647`,
          );
        if ((QUOTA_RESOURCES as readonly string[]).includes(k)) wanted[k as QuotaResource] = n;
      }
      if (!forced) {
        const used = await inUse(id);
        for (const [r, limit] of Object.entries(wanted) as [QuotaResource, number][]) {
          const minimum = used[r] ?? 0;
          if (limit >= 0 && limit < minimum) {
            throw badRequest(
              `Quota limit ${limit} for ${r} must be greater than or equal to already used and reserved ${minimum}.`,
            );
          }
        }
      }
      await gw.quotas.update(id, wanted);
      return { quota_set: quotaSetView(await gw.quotas.limits(id)) };
    },
  );

  app.delete<{ Params: { id: string } }>('/os-quota-sets/:id', async (request, reply) => {
    enforce(caller(request), 'os_compute_api:os-quota-sets:delete');
    await gw.quotas.reset(request.params.id);
    return reply.code(202).send();
  });
}
