// /v2.0/ports.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { createPort, deletePort, listPorts, portView, showPort, updatePort } from '../ports.js';
import { createPortSchema, updatePortSchema } from '../schemas/ports.js';
import { registerResource } from './resource.js';

export function registerPortRoutes(app: FastifyInstance, gw: Gateway): void {
  registerResource(app, gw, {
    path: 'ports',
    collection: 'ports',
    member: 'port',
    list: listPorts,
    show: showPort,
    create: createPort,
    update: updatePort,
    delete: deletePort,
    views: async (_gw, actor, records) => records.map((p) => portView(actor, p)),
    createSchema: createPortSchema,
    updateSchema: updatePortSchema,
  });
}
