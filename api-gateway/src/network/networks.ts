// Networks (Neutron's ML2 with the provider, external-net and net-mtu extensions): a tenant
// network is VXLAN with a VNI taken from VNI_RANGE unless an admin names one; a flat network
// rides a physical network, one flat network per physical network. Deleting a network deletes
// its subnets, and is refused while ports are on it.
import { randomUUID } from 'node:crypto';
import {
  VNI_POOL,
  claim,
  claimFirstFree,
  dropPool,
  ipPool,
  macPool,
  release,
  type NetworkRecord,
} from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { allowed } from '../policy.js';
import { NeutronError, conflictOf, invalidInput, notFoundOf } from './errors.js';
import { checkQuota } from './quotas.js';
import { enforceNet, loadForChange, networkVisible, type Actor } from './policy.js';
import { given, loadNetwork, newRecord, projectFor, standardView } from './records.js';

/** devstack's ML2 vni_ranges. */
export const VNI_RANGE = [1, 1000] as const;
const MAX_VNI = 16_777_215;
/** The MTU of an underlay of 1500 bytes, less VXLAN's 50 bytes of outer headers. */
const MTU = { vxlan: 1450, flat: 1500 } as const;
const FLAT_POOL = 'flat-physnets';

export interface NetworkCreate {
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  shared?: boolean;
  'router:external'?: boolean;
  port_security_enabled?: boolean;
  mtu?: number;
  'provider:network_type'?: 'vxlan' | 'flat';
  'provider:physical_network'?: string | null;
  'provider:segmentation_id'?: number | null;
  project_id?: string;
  tenant_id?: string;
  availability_zone_hints?: string[];
  is_default?: boolean;
}

export type NetworkUpdate = Omit<NetworkCreate, 'project_id' | 'tenant_id'>;

export function networkView(actor: Actor, n: NetworkRecord) {
  return {
    id: n.id,
    name: n.name,
    description: n.description,
    admin_state_up: n.admin_state_up,
    status: 'ACTIVE',
    subnets: n.subnets,
    shared: n.shared,
    'router:external': n.external,
    port_security_enabled: n.port_security_enabled,
    mtu: n.mtu,
    availability_zone_hints: [],
    availability_zones: [],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    is_default: false,
    l2_adjacency: true,
    ...(allowed(actor, 'get_network:provider:network_type')
      ? {
          'provider:network_type': n.network_type,
          'provider:physical_network': n.physical_network,
          'provider:segmentation_id': n.segmentation_id,
        }
      : {}),
    ...standardView(n),
  };
}

/** The segment a new network rides, taken from its pool: a VNI, or its flat physical network. */
async function allocateSegment(
  gw: Gateway,
  id: string,
  b: NetworkCreate,
): Promise<Pick<NetworkRecord, 'network_type' | 'physical_network' | 'segmentation_id'>> {
  const type = b['provider:network_type'] ?? 'vxlan';
  const physnet = b['provider:physical_network'] ?? null;
  const requested = b['provider:segmentation_id'] ?? null;
  if (type === 'flat') {
    if (physnet === null) throw invalidInput('physical_network required for flat provider network');
    if (requested !== null) throw invalidInput(`segmentation_id specified for flat provider network`);
    if (!(await claim(gw.redis, FLAT_POOL, physnet, id)))
      throw conflictOf('FlatNetworkInUse', `Unable to create the flat network. Physical network ${physnet} is in use.`);
    return { network_type: 'flat', physical_network: physnet, segmentation_id: null };
  }
  if (physnet !== null) throw invalidInput('provider:physical_network specified for vxlan network');
  if (requested !== null) {
    if (!Number.isInteger(requested) || requested < 1 || requested > MAX_VNI)
      throw invalidInput(`segmentation_id out of range (1 through ${MAX_VNI})`);
    if (!(await claim(gw.redis, VNI_POOL, String(requested), id)))
      throw conflictOf('TunnelIdInUse', `Unable to create the network. The tunnel ID ${requested} is in use.`);
    return { network_type: 'vxlan', physical_network: null, segmentation_id: requested };
  }
  const vni = await claimFirstFree(gw.redis, VNI_POOL, id, [VNI_RANGE], 'int');
  if (vni === undefined)
    throw new NeutronError(
      503,
      'NoNetworkAvailable',
      'Unable to create the network. No tenant network is available for allocation.',
    );
  return { network_type: 'vxlan', physical_network: null, segmentation_id: Number(vni) };
}

async function releaseSegment(gw: Gateway, n: NetworkRecord): Promise<void> {
  if (n.network_type === 'flat' && n.physical_network !== null)
    await release(gw.redis, FLAT_POOL, n.physical_network, n.id);
  else if (n.segmentation_id !== null) await release(gw.redis, VNI_POOL, String(n.segmentation_id), n.id);
}

/** 403 for an admin-only attribute given a value other than its default. */
function checkAdminAttributes(actor: Actor, action: 'create_network' | 'update_network', b: NetworkUpdate): void {
  if (b.shared === true) enforceNet(actor, `${action}:shared`);
  if (b['router:external'] === true) enforceNet(actor, `${action}:router:external`);
  if (action === 'create_network')
    for (const attr of ['network_type', 'physical_network', 'segmentation_id'] as const)
      if (b[`provider:${attr}`] !== undefined) enforceNet(actor, `create_network:provider:${attr}`);
}

function checkMtu(mtu: number | undefined, type: NetworkRecord['network_type']): number {
  if (mtu === undefined) return MTU[type];
  if (mtu < 68 || mtu > MTU[type]) throw invalidInput(`Requested MTU is too big, maximum is ${MTU[type]}`);
  return mtu;
}

export async function createNetwork(gw: Gateway, actor: Actor, b: NetworkCreate): Promise<NetworkRecord> {
  enforceNet(actor, 'create_network');
  checkAdminAttributes(actor, 'create_network', b);
  const project = projectFor(actor, b, 'create_network');
  await checkQuota(gw, project, 'network');
  const mtu = checkMtu(b.mtu, b['provider:network_type'] ?? 'vxlan');
  const id = randomUUID();
  const segment = await allocateSegment(gw, id, b);
  const rec: NetworkRecord = {
    ...newRecord(project, id),
    name: b.name ?? '',
    description: b.description ?? '',
    admin_state_up: b.admin_state_up ?? true,
    shared: b.shared ?? false,
    external: b['router:external'] ?? false,
    port_security_enabled: b.port_security_enabled ?? true,
    ...segment,
    mtu,
    subnets: [],
  };
  await gw.network.networks.create(rec);
  return rec;
}

export async function listNetworks(gw: Gateway, actor: Actor): Promise<NetworkRecord[]> {
  enforceNet(actor, 'get_network');
  return (await gw.network.networks.list()).filter((n) => networkVisible(actor, n));
}

export async function showNetwork(gw: Gateway, actor: Actor, id: string): Promise<NetworkRecord> {
  enforceNet(actor, 'get_network');
  return loadNetwork(gw, actor, id);
}

export async function updateNetwork(gw: Gateway, actor: Actor, id: string, b: NetworkUpdate): Promise<NetworkRecord> {
  const n = await loadForChange(actor, 'update_network', () => loadNetwork(gw, actor, id));
  checkAdminAttributes(actor, 'update_network', b);
  if (['provider:network_type', 'provider:physical_network', 'provider:segmentation_id'].some((k) => k in b))
    throw invalidInput('Plugin does not support updating provider attributes');
  if (b['router:external'] === false && n.external) {
    const ports = await gw.network.ports.list();
    if (ports.some((p) => p.network_id === id && /^network:(router_gateway|floatingip)$/.test(p.device_owner)))
      throw conflictOf(
        'ExternalNetworkInUse',
        `External network ${id} cannot be updated to be made non-external, since it has existing gateway ports.`,
      );
  }
  const mtu = b.mtu === undefined ? undefined : checkMtu(b.mtu, n.network_type);
  const updated = await gw.network.networks.change(id, (cur) => ({
    ...cur,
    ...given({
      name: b.name,
      description: b.description,
      admin_state_up: b.admin_state_up,
      shared: b.shared,
      external: b['router:external'],
      port_security_enabled: b.port_security_enabled,
      mtu: mtu,
    }),
  }));
  if (!updated) throw notFoundOf('network', id);
  return updated;
}

/**
 * Deletes the network and its subnets. Ports block it (Neutron's NetworkInUse): a port created
 * while the delete runs is left on a network that is gone, a window Neutron closes with a
 * database transaction.
 */
export async function deleteNetwork(gw: Gateway, actor: Actor, id: string): Promise<void> {
  const n = await loadForChange(actor, 'delete_network', () => loadNetwork(gw, actor, id));
  if ((await gw.network.ports.list()).some((p) => p.network_id === id))
    throw conflictOf(
      'NetworkInUse',
      `Unable to complete operation on network ${id}. There are one or more ports still in use on the network.`,
    );
  for (const s of n.subnets) {
    await gw.network.subnets.delete(s);
    await dropPool(gw.redis, ipPool(s));
  }
  await dropPool(gw.redis, macPool(id));
  await gw.network.networks.delete(id);
  await releaseSegment(gw, n);
}
