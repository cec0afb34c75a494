// /v2.0/quotas: a project's limits (show, default, details with usage), set and reset by admins,
// and the list of projects with limits of their own.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { caller } from '../../identity/auth.js';
import { enforceNet } from '../policy.js';
import {
  DEFAULT_QUOTAS,
  checkQuotaAccess,
  listQuotas,
  quotaDetails,
  quotaLimits,
  resetQuotas,
  updateQuotas,
  type QuotaSet,
} from '../quotas.js';
import { updateQuotaSchema } from '../schemas/quotas.js';

type Params = { Params: { project: string } };

export function registerQuotaRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get('/quotas', async (request) => {
    enforceNet(caller(request), 'update_quota');
    return { quotas: await listQuotas(gw) };
  });

  /** The caller may read the project's quotas (its own, or any for admins). */
  const reader = (project: string, request: Parameters<typeof caller>[0]) => {
    const actor = caller(request);
    enforceNet(actor, 'get_quota');
    checkQuotaAccess(actor, project);
  };

  app.get<Params>('/quotas/:project', async (request) => {
    reader(request.params.project, request);
    return { quota: await quotaLimits(gw, request.params.project) };
  });
  app.get<Params>('/quotas/:project/default', async (request) => {
    reader(request.params.project, request);
    return { quota: { ...DEFAULT_QUOTAS } };
  });
  app.get<Params>('/quotas/:project/details', async (request) => {
    reader(request.params.project, request);
    return { quota: await quotaDetails(gw, request.params.project) };
  });
  app.put<Params & { Body: { quota: Partial<QuotaSet> & { check_limit?: boolean; force?: boolean } } }>(
    '/quotas/:project',
    { schema: { body: updateQuotaSchema } },
    async (request) => {
      enforceNet(caller(request), 'update_quota');
      return { quota: await updateQuotas(gw, request.params.project, request.body.quota) };
    },
  );
  app.delete<Params>('/quotas/:project', async (request, reply) => {
    enforceNet(caller(request), 'delete_quota');
    await resetQuotas(gw, request.params.project);
    return reply.code(204).send();
  });
}
