// /v2.0/networks and /v2.0/subnets.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { createNetwork, deleteNetwork, listNetworks, networkView, showNetwork, updateNetwork } from '../networks.js';
import { createNetworkSchema, updateNetworkSchema } from '../schemas/networks.js';
import { createSubnetSchema, updateSubnetSchema } from '../schemas/subnets.js';
import { createSubnet, deleteSubnet, listSubnets, showSubnet, subnetView, updateSubnet } from '../subnets.js';
import { registerResource } from './resource.js';

export function registerNetworkRoutes(app: FastifyInstance, gw: Gateway): void {
  registerResource(app, gw, {
    path: 'networks',
    collection: 'networks',
    member: 'network',
    list: listNetworks,
    show: showNetwork,
    create: createNetwork,
    update: updateNetwork,
    delete: deleteNetwork,
    views: async (_gw, actor, records) => records.map((n) => networkView(actor, n)),
    createSchema: createNetworkSchema,
    updateSchema: updateNetworkSchema,
  });
  registerResource(app, gw, {
    path: 'subnets',
    collection: 'subnets',
    member: 'subnet',
    list: listSubnets,
    show: showSubnet,
    create: createSubnet,
    update: updateSubnet,
    delete: deleteSubnet,
    views: async (_gw, _actor, records) => records.map(subnetView),
    createSchema: createSubnetSchema,
    updateSchema: updateSubnetSchema,
  });
}
