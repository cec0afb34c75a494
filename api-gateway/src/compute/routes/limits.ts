// GET /limits: the project's quota limits (its overrides over the defaults) and usage.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { caller } from '../../identity/auth.js';
import { enforce } from '../../policy.js';
import { usageOf } from '../quota.js';
import { limitsView } from '../views/limits.js';

export function registerLimitRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get('/limits', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:limits');
    const [limits, instances, groups] = await Promise.all([
      gw.quotas.limits(c.projectId),
      gw.instances.list({ projectId: c.projectId }),
      gw.serverGroups.countOf(c.projectId),
    ]);
    return limitsView(limits, usageOf(instances), groups);
  });
}
