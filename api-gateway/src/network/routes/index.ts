// Neutron v2.0 under /networking (devstack's layout): the versions document is public (the
// SDK's discovery); everything under /networking/v2.0 needs a project-scoped token.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { authenticate } from '../../identity/auth.js';
import { NeutronError } from '../errors.js';
import { registerNetworkRoutes } from './networks.js';
import { registerPortRoutes } from './ports.js';
import { registerQuotaRoutes } from './quotas.js';
import { registerRouterRoutes } from './routers.js';
import { registerSecurityGroupRoutes } from './security-groups.js';

/** The extensions served, as Neutron lists them (OSC asks for some by alias). */
const EXTENSIONS = [
  ['external-net', 'Neutron external network', 'Adds external network attribute to network resource.'],
  [
    'router',
    'Neutron L3 Router',
    'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.',
  ],
  ['provider', 'Provider Network', 'Expose mapping of virtual networks to physical networks'],
  ['binding', 'Port Binding', 'Expose port bindings of a virtual port to external application'],
  ['security-group', 'security-group', 'The security groups extension.'],
  ['allowed-address-pairs', 'Allowed Address Pairs', 'Provides allowed address pairs'],
  ['port-security', 'Port Security', 'Provides port security'],
  ['quotas', 'Quota management support', 'Expose functions for quotas management per project'],
  ['quota_details', 'Quota details management support', 'Expose functions for quotas usage statistics per project'],
  ['net-mtu', 'Network MTU', 'Provides MTU attribute for a network resource.'],
  ['project-id', 'project_id field enabled', 'Extension that indicates that project_id field is enabled.'],
  [
    'standard-attr-revisions',
    'Resource revision numbers',
    'This extension will display the revision number of neutron resources.',
  ],
  [
    'standard-attr-timestamp',
    'Resource timestamps',
    'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.',
  ],
].map(([alias, name, description]) => ({ alias, name, description, updated: '2013-01-01T10:00:00-00:00', links: [] }));

const RESOURCES = [
  'subnets',
  'networks',
  'ports',
  'routers',
  'floatingips',
  'security-groups',
  'security-group-rules',
  'quotas',
];

export function registerNetworkApi(app: FastifyInstance, gw: Gateway): void {
  const base = (request: FastifyRequest) => `${baseUrl(gw.config.publicUrl, request)}/networking`;
  app.get('/networking', async (request) => ({
    versions: [{ id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${base(request)}/v2.0/` }] }],
  }));

  void app.register(
    async (v2) => {
      v2.addHook('onRequest', async (request) => {
        await authenticate(gw, request, { projectScoped: true });
      });
      v2.get('/', async (request) => ({
        resources: RESOURCES.map((r) => ({
          name: r.replace(/s$/, '').replace(/-/g, '_'),
          collection: r,
          links: [{ rel: 'self', href: `${base(request)}/v2.0/${r}` }],
        })),
      }));
      v2.get('/extensions', async () => ({ extensions: EXTENSIONS }));
      v2.get<{ Params: { alias: string } }>('/extensions/:alias', async (request) => {
        const extension = EXTENSIONS.find((e) => e.alias === request.params.alias);
        if (!extension)
          throw new NeutronError(404, 'HTTPNotFound', `Extension with alias ${request.params.alias} does not exist`);
        return { extension };
      });
      registerNetworkRoutes(v2, gw);
      registerPortRoutes(v2, gw);
      registerRouterRoutes(v2, gw);
      registerSecurityGroupRoutes(v2, gw);
      registerQuotaRoutes(v2, gw);
    },
    { prefix: '/networking/v2.0' },
  );
}
