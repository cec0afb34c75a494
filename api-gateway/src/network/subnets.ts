// IPv4 subnets: the CIDR, its gateway (the first host address unless given or null) and the
// allocation pools ports take addresses from (the rest of the hosts unless given). Subnets of a
// network never overlap: the check and the subnet's addition to its network are one
// compare-and-set on the network record. A subnet with allocated addresses is not deleted.
import {
  cidrsOverlap,
  dropPool,
  formatCidr,
  hostRange,
  intToIp,
  ipPool,
  parseCidr,
  parseIpv4,
  type AllocationPool,
  type Cidr,
  type HostRoute,
  type SubnetRecord,
} from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { conflictOf, invalidInput, notFoundOf } from './errors.js';
import { checkQuota } from './quotas.js';
import { enforceNet, enforceOwner, loadForChange, subnetVisible, type Actor } from './policy.js';
import { given, loadNetwork, newRecord, projectFor, standardView } from './records.js';

export interface SubnetCreate {
  network_id: string;
  cidr: string;
  ip_version?: 4;
  name?: string;
  description?: string;
  gateway_ip?: string | null;
  allocation_pools?: AllocationPool[];
  enable_dhcp?: boolean;
  dns_nameservers?: string[];
  host_routes?: HostRoute[];
  project_id?: string;
  tenant_id?: string;
}

export type SubnetUpdate = Partial<
  Pick<
    SubnetCreate,
    'name' | 'description' | 'gateway_ip' | 'allocation_pools' | 'enable_dhcp' | 'dns_nameservers' | 'host_routes'
  >
>;

export function subnetView(s: SubnetRecord) {
  return {
    id: s.id,
    name: s.name,
    description: s.description,
    network_id: s.network_id,
    ip_version: s.ip_version,
    cidr: s.cidr,
    gateway_ip: s.gateway_ip,
    allocation_pools: s.allocation_pools,
    enable_dhcp: s.enable_dhcp,
    dns_nameservers: s.dns_nameservers,
    host_routes: s.host_routes,
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
    segment_id: null,
    service_types: [],
    dns_publish_fixed_ip: false,
    ...standardView(s),
  };
}

/** Inclusive integer ranges of a subnet's pools, for the allocator. */
export const poolRanges = (s: SubnetRecord) =>
  s.allocation_pools.map((p) => [parseIpv4(p.start) as number, parseIpv4(p.end) as number] as const);

function ipOf(ip: string, what: string): number {
  const n = parseIpv4(ip);
  if (n === undefined) throw invalidInput(`'${ip}' is not a valid IP address for ${what}`);
  return n;
}

/** The gateway: the first host unless given (null: none); it must be a host address of the subnet. */
function gatewayOf(cidr: Cidr, requested: string | null | undefined): number | null {
  if (requested === null) return null;
  if (requested === undefined) return hostRange(cidr).first;
  const gw = ipOf(requested, 'gateway_ip');
  const hosts = hostRange(cidr);
  if (gw < hosts.first || gw > hosts.last) throw invalidInput(`Gateway is not valid on subnet`);
  return gw;
}

/** The pools: given ones checked (inside the hosts, apart, clear of the gateway), else the hosts around the gateway. */
function poolsOf(cidr: Cidr, gateway: number | null, requested: AllocationPool[] | undefined): AllocationPool[] {
  const hosts = hostRange(cidr);
  if (requested === undefined) {
    const ranges: [number, number][] =
      gateway === null
        ? [[hosts.first, hosts.last]]
        : [
            [hosts.first, gateway - 1],
            [gateway + 1, hosts.last],
          ];
    return ranges.filter(([a, b]) => a <= b).map(([a, b]) => ({ start: intToIp(a), end: intToIp(b) }));
  }
  const ranges = requested.map((p) => {
    const start = ipOf(p.start, 'allocation_pools');
    const end = ipOf(p.end, 'allocation_pools');
    if (start < hosts.first || end > hosts.last || start > end)
      throw invalidInput(`The allocation pool ${p.start}-${p.end} spans beyond the subnet cidr ${formatCidr(cidr)}`);
    return { start, end, text: `${p.start}-${p.end}` };
  });
  for (const [i, a] of ranges.entries()) {
    for (const b of ranges.slice(i + 1))
      if (a.start <= b.end && b.start <= a.end)
        throw invalidInput(
          `Found overlapping allocation pools: ${a.text} and ${b.text} for subnet ${formatCidr(cidr)}`,
        );
    if (gateway !== null && gateway >= a.start && gateway <= a.end)
      throw conflictOf(
        'GatewayConflictWithAllocationPools',
        `Gateway ip ${intToIp(gateway)} conflicts with allocation pool ${a.text}`,
      );
  }
  return ranges.map((r) => ({ start: intToIp(r.start), end: intToIp(r.end) }));
}

function checkNameservers(servers: string[]): string[] {
  for (const [i, s] of servers.entries()) {
    if (parseIpv4(s) === undefined) throw invalidInput(`'${s}' is not a valid nameserver`);
    if (servers.indexOf(s) !== i) throw invalidInput(`Duplicate nameserver '${s}'`);
  }
  return servers;
}

function checkRoutes(routes: HostRoute[]): HostRoute[] {
  for (const r of routes) {
    if (!parseCidr(r.destination)) throw invalidInput(`'${r.destination}' is not a valid host route destination`);
    if (parseIpv4(r.nexthop) === undefined) throw invalidInput(`'${r.nexthop}' is not a valid host route nexthop`);
  }
  return routes;
}

/** Thrown inside a compare-and-set when the network's subnets changed since they were checked. */
class SubnetsChanged extends Error {}

export async function createSubnet(gw: Gateway, actor: Actor, b: SubnetCreate): Promise<SubnetRecord> {
  enforceNet(actor, 'create_subnet');
  const network = await loadNetwork(gw, actor, b.network_id);
  enforceOwner(actor, network, 'create_subnet');
  const project = projectFor(actor, b, 'create_subnet');
  const cidr = parseCidr(b.cidr);
  if (!cidr || cidr.prefix > 30) throw invalidInput(`'${b.cidr}' is not a valid IPv4 subnet`);
  const gateway = gatewayOf(cidr, b.gateway_ip);
  await checkQuota(gw, project, 'subnet');
  const rec: SubnetRecord = {
    ...newRecord(project),
    name: b.name ?? '',
    description: b.description ?? '',
    network_id: network.id,
    ip_version: 4,
    cidr: formatCidr(cidr),
    gateway_ip: gateway === null ? null : intToIp(gateway),
    allocation_pools: poolsOf(cidr, gateway, b.allocation_pools),
    enable_dhcp: b.enable_dhcp ?? true,
    dns_nameservers: checkNameservers(b.dns_nameservers ?? []),
    host_routes: checkRoutes(b.host_routes ?? []),
  };
  // Written first so that whoever finds its id in the network's list finds the record too.
  await gw.network.subnets.create(rec);
  try {
    await addToNetwork(gw, network.id, network.subnets, rec);
  } catch (err) {
    await gw.network.subnets.delete(rec.id);
    throw err;
  }
  return rec;
}

/** Appends the subnet to its network unless it overlaps a sibling (checked against the list the append finds). */
async function addToNetwork(gw: Gateway, networkId: string, siblings: string[], rec: SubnetRecord): Promise<void> {
  const cidr = parseCidr(rec.cidr) as Cidr;
  for (;;) {
    for (const id of siblings) {
      const other = await gw.network.subnets.get(id);
      const otherCidr = other && parseCidr(other.cidr);
      // Neutron's overlap is an InvalidInput (400).
      if (otherCidr && cidrsOverlap(cidr, otherCidr))
        throw invalidInput(
          `Requested subnet with cidr: ${rec.cidr} for network: ${networkId} overlaps with another subnet`,
        );
    }
    const checked = siblings;
    try {
      const updated = await gw.network.networks.change(networkId, (cur) => {
        if (cur.subnets.join() !== checked.join()) {
          siblings = cur.subnets;
          throw new SubnetsChanged();
        }
        return { ...cur, subnets: [...cur.subnets, rec.id] };
      });
      if (!updated) throw notFoundOf('network', networkId);
      return;
    } catch (err) {
      if (!(err instanceof SubnetsChanged)) throw err;
    }
  }
}

/** A subnet the actor may see (its network's visibility); 404 otherwise. */
export async function loadSubnet(gw: Gateway, actor: Actor, id: string): Promise<SubnetRecord> {
  const s = await gw.network.subnets.get(id);
  const n = s && (await gw.network.networks.get(s.network_id));
  if (!s || !n || !subnetVisible(actor, n)) throw notFoundOf('subnet', id);
  return s;
}

export async function listSubnets(gw: Gateway, actor: Actor): Promise<SubnetRecord[]> {
  enforceNet(actor, 'get_subnet');
  const networks = new Map((await gw.network.networks.list()).map((n) => [n.id, n]));
  return (await gw.network.subnets.list()).filter((s) => {
    const n = networks.get(s.network_id);
    return n !== undefined && subnetVisible(actor, n);
  });
}

export async function showSubnet(gw: Gateway, actor: Actor, id: string): Promise<SubnetRecord> {
  enforceNet(actor, 'get_subnet');
  return loadSubnet(gw, actor, id);
}

export async function updateSubnet(gw: Gateway, actor: Actor, id: string, b: SubnetUpdate): Promise<SubnetRecord> {
  const s = await loadForChange(actor, 'update_subnet', () => loadSubnet(gw, actor, id));
  const cidr = parseCidr(s.cidr) as Cidr;
  const gatewayIp = b.gateway_ip === undefined ? s.gateway_ip : b.gateway_ip;
  const gateway = gatewayOf(cidr, gatewayIp);
  if (b.gateway_ip !== undefined && s.gateway_ip !== null && b.gateway_ip !== s.gateway_ip) {
    const ports = await gw.network.ports.list();
    const router = ports.find(
      (p) =>
        p.device_owner === 'network:router_interface' &&
        p.fixed_ips.some((f) => f.subnet_id === id && f.ip_address === s.gateway_ip),
    );
    if (router)
      throw conflictOf(
        'GatewayIpInUse',
        `Current gateway ip ${s.gateway_ip} already in use by port ${router.id}. Unable to update.`,
      );
  }
  const pools = b.allocation_pools === undefined ? s.allocation_pools : poolsOf(cidr, gateway, b.allocation_pools);
  // A new gateway must stay clear of the pools it keeps.
  if (b.allocation_pools === undefined && gateway !== null) poolsOf(cidr, gateway, s.allocation_pools);
  const updated = await gw.network.subnets.change(id, (cur) => ({
    ...cur,
    dns_nameservers: b.dns_nameservers === undefined ? cur.dns_nameservers : checkNameservers(b.dns_nameservers),
    host_routes: b.host_routes === undefined ? cur.host_routes : checkRoutes(b.host_routes),
    gateway_ip: gateway === null ? null : intToIp(gateway),
    allocation_pools: pools,
    ...given({ name: b.name, description: b.description, enable_dhcp: b.enable_dhcp }),
  }));
  if (!updated) throw notFoundOf('subnet', id);
  return updated;
}

export async function deleteSubnet(gw: Gateway, actor: Actor, id: string): Promise<void> {
  const s = await loadForChange(actor, 'delete_subnet', () => loadSubnet(gw, actor, id));
  if ((await gw.network.ports.list()).some((p) => p.fixed_ips.some((f) => f.subnet_id === id)))
    throw conflictOf(
      'SubnetInUse',
      `Unable to complete operation on subnet ${id}: One or more ports have an IP allocation from this subnet.`,
    );
  await gw.network.networks.change(s.network_id, (cur) => ({ ...cur, subnets: cur.subnets.filter((x) => x !== id) }));
  await gw.network.subnets.delete(id);
  await dropPool(gw.redis, ipPool(id));
}
