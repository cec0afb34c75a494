// /v2.0/routers and /v2.0/floatingips, with add_router_interface and remove_router_interface.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { caller } from '../../identity/auth.js';
import {
  createFloatingIp,
  deleteFloatingIp,
  floatingIpView,
  listFloatingIps,
  showFloatingIp,
  updateFloatingIp,
} from '../floating-ips.js';
import {
  addInterface,
  createRouter,
  deleteRouter,
  interfaceInfo,
  listRouters,
  removeInterface,
  routerView,
  showRouter,
  updateRouter,
} from '../routers.js';
import { createFloatingIpSchema, updateFloatingIpSchema } from '../schemas/floating-ips.js';
import { createRouterSchema, routerInterfaceSchema, updateRouterSchema } from '../schemas/routers.js';
import { registerResource } from './resource.js';

interface InterfaceRequest {
  Params: { id: string };
  Body: { subnet_id?: string; port_id?: string };
}

export function registerRouterRoutes(app: FastifyInstance, gw: Gateway): void {
  registerResource(app, gw, {
    path: 'routers',
    collection: 'routers',
    member: 'router',
    list: listRouters,
    show: showRouter,
    create: createRouter,
    update: updateRouter,
    delete: deleteRouter,
    views: async (_gw, actor, records) => records.map((r) => routerView(actor, r)),
    createSchema: createRouterSchema,
    updateSchema: updateRouterSchema,
  });
  for (const [action, run] of [
    ['add_router_interface', addInterface],
    ['remove_router_interface', removeInterface],
  ] as const) {
    app.put<InterfaceRequest>(
      `/routers/:id/${action}`,
      { schema: { body: routerInterfaceSchema } },
      async (request) => {
        const { router, port } = await run(gw, caller(request), request.params.id, request.body);
        return interfaceInfo(router, port);
      },
    );
  }
  registerResource(app, gw, {
    path: 'floatingips',
    collection: 'floatingips',
    member: 'floatingip',
    list: listFloatingIps,
    show: showFloatingIp,
    create: createFloatingIp,
    update: updateFloatingIp,
    delete: deleteFloatingIp,
    views: async (g, _actor, records) => {
      const ports = new Map((await g.network.ports.list()).map((p) => [p.id, p]));
      return records.map((f) => floatingIpView(f, f.port_id === null ? undefined : ports.get(f.port_id)));
    },
    createSchema: createFloatingIpSchema,
    updateSchema: updateFloatingIpSchema,
  });
}
