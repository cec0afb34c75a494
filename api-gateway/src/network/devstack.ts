// devstack's initial networks: an external `public` 172.24.4.0/24 (flat, physical network
// `public`) whose gateway address .1 is the host's, and for each named project a `private`
// 10.0.0.0/26 network with `router1` joining it to public. Idempotent: what exists by name is
// left as it is, so every gateway start may run it.
import type { NetworkRecord, SubnetRecord } from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { DEFAULT_DOMAIN_ID } from '../identity/store.js';
import { createNetwork } from './networks.js';
import { clusterActor } from './policy.js';
import { addInterface, createRouter } from './routers.js';
import { createSubnet } from './subnets.js';

export const DEVSTACK = {
  public: { network: 'public', subnet: 'public-subnet', cidr: '172.24.4.0/24', gateway: '172.24.4.1' },
  private: { network: 'private', subnet: 'private-subnet', cidr: '10.0.0.0/26' },
  router: 'router1',
} as const;

const named = <T extends { name: string; project_id: string }>(all: T[], name: string, project: string) =>
  all.find((r) => r.name === name && r.project_id === project);

async function ensureNetwork(
  gw: Gateway,
  project: string,
  name: string,
  subnetName: string,
  cidr: string,
  attrs: { external?: boolean; gateway?: string },
): Promise<{ network: NetworkRecord; subnet: SubnetRecord }> {
  const actor = clusterActor(project);
  const network =
    named(await gw.network.networks.list(), name, project) ??
    (await createNetwork(gw, actor, {
      name,
      ...(attrs.external
        ? { 'router:external': true, 'provider:network_type': 'flat', 'provider:physical_network': 'public' }
        : {}),
    }));
  const subnet =
    named(await gw.network.subnets.list(), subnetName, project) ??
    (await createSubnet(gw, actor, {
      network_id: network.id,
      name: subnetName,
      cidr,
      ...(attrs.gateway ? { gateway_ip: attrs.gateway, enable_dhcp: false } : {}),
    }));
  return { network, subnet };
}

/**
 * Makes devstack's networks: public owned by the admin project, private and router1 for each
 * of `projects` (names in the default domain; unknown ones are skipped and returned).
 */
export async function ensureDevstackNetworks(gw: Gateway, projects: readonly string[]): Promise<{ missing: string[] }> {
  const admin = await gw.identity.projects.findByName(DEFAULT_DOMAIN_ID, gw.config.adminProject);
  if (!admin) return { missing: [gw.config.adminProject] };
  const p = DEVSTACK.public;
  const pub = await ensureNetwork(gw, admin.id, p.network, p.subnet, p.cidr, { external: true, gateway: p.gateway });
  const missing: string[] = [];
  for (const name of projects) {
    const project = await gw.identity.projects.findByName(DEFAULT_DOMAIN_ID, name);
    if (!project) {
      missing.push(name);
      continue;
    }
    const q = DEVSTACK.private;
    const { subnet } = await ensureNetwork(gw, project.id, q.network, q.subnet, q.cidr, {});
    if (named(await gw.network.routers.list(), DEVSTACK.router, project.id)) continue;
    const actor = clusterActor(project.id);
    const router = await createRouter(gw, actor, {
      name: DEVSTACK.router,
      external_gateway_info: { network_id: pub.network.id },
    });
    await addInterface(gw, actor, router.id, { subnet_id: subnet.id });
  }
  return { missing };
}
