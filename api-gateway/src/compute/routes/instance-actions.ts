// os-instance-actions: a server's recorded actions (list) and one action with its events (show;
// the events are admin-only, as Nova's default policy has them). From 2.21 the actions of a
// deleted server stay readable (until they expire), for its project and admins; before 2.21 a
// deleted server is a 404 like any unknown one.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../../context.js';
import { notFound } from '../../http/errors.js';
import { isUuid } from '../../http/validation.js';
import { caller } from '../../identity/auth.js';
import { allowed, enforce, inScope, type Caller } from '../../policy.js';
import { instanceActionDetail, instanceActionView } from '../views/instance-actions.js';
import { loadServer } from '../api.js';

/**
 * The uuid of the server whose actions are read: a visible live server, or from 2.21 a deleted
 * one whose actions remain. A deleted server's record is gone, so its project is the one that
 * created it (its create action's); other projects get the same 404 as before.
 */
async function serverOf(gw: Gateway, request: FastifyRequest, c: Caller, id: string): Promise<string> {
  try {
    return (await loadServer(gw, c, id)).uuid;
  } catch (err) {
    if (!request.microversion.atLeast(21) || !isUuid(id)) throw err;
    const uuid = id.toLowerCase();
    const actions = await gw.actions.list(uuid);
    const owner = actions.find((a) => a.action === 'create')?.projectId;
    if (actions.length === 0 || !inScope(c, owner ?? '')) throw err;
    return uuid;
  }
}

export function registerInstanceActionRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get<{ Params: { id: string } }>('/servers/:id/os-instance-actions', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-instance-actions:list');
    const uuid = await serverOf(gw, request, c, request.params.id);
    return { instanceActions: (await gw.actions.list(uuid)).map(instanceActionView) };
  });

  app.get<{ Params: { id: string; requestId: string } }>(
    '/servers/:id/os-instance-actions/:requestId',
    async (request) => {
      const c = caller(request);
      enforce(c, 'os_compute_api:os-instance-actions:show');
      const uuid = await serverOf(gw, request, c, request.params.id);
      const action = await gw.actions.get(uuid, request.params.requestId);
      if (!action) throw notFound(`Action for request_id ${request.params.requestId} on instance ${uuid} not found`);
      return { instanceAction: instanceActionDetail(action, allowed(c, 'os_compute_api:os-instance-actions:events')) };
    },
  );
}
