// os-instance-actions: a server's recorded actions (list) and one action with its events (show;
// the events are admin-only, as Nova's default policy has them).
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { notFound } from '../../http/errors.js';
import { caller } from '../../identity/auth.js';
import { allowed, enforce } from '../../policy.js';
import { instanceActionDetail, instanceActionView } from '../views/instance-actions.js';
import { loadServer } from './servers.js';

export function registerInstanceActionRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get<{ Params: { id: string } }>('/servers/:id/os-instance-actions', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-instance-actions:list');
    const rec = await loadServer(gw, c, request.params.id);
    return { instanceActions: (await gw.actions.list(rec.uuid)).map(instanceActionView) };
  });

  app.get<{ Params: { id: string; requestId: string } }>('/servers/:id/os-instance-actions/:requestId', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-instance-actions:show');
    const rec = await loadServer(gw, c, request.params.id);
    const action = await gw.actions.get(rec.uuid, request.params.requestId);
    if (!action) throw notFound(`Action for request_id ${request.params.requestId} on instance ${rec.uuid} not found`);
    return { instanceAction: instanceActionDetail(action, allowed(c, 'os_compute_api:os-instance-actions:events')) };
  });
}
