// GET /limits: the project's quota limits and usage.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { caller } from '../../identity/auth.js';
import { enforce } from '../../policy.js';
import { defaultLimits, usageOf } from '../quota.js';
import { limitsView } from '../views/limits.js';

export function registerLimitRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get('/limits', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:limits');
    const usage = usageOf(await gw.instances.list({ projectId: c.projectId }));
    const groups = (await gw.serverGroups.list()).filter((g) => g.projectId === c.projectId).length;
    return limitsView(defaultLimits(gw.config), usage, groups);
  });
}
