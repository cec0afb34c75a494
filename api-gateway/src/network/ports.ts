// Ports: a MAC unique on the network (fa:16:3e:… unless given), fixed IPs taken from the
// subnets' pools (the first free address, or the one asked for), security groups (the project's
// default group unless given), a binding host. Every address and MAC is claimed in Redis before
// the record is written and given back if the create fails. Ports that routers and floating IPs
// own are made here too, without the tenant's checks, and go only with what owns them.
import { randomUUID } from 'node:crypto';
import {
  claim,
  claimFirstFree,
  claimRandomMac,
  inCidr,
  ipPool,
  macPool,
  parseCidr,
  parseIpv4,
  release,
  type AddressPair,
  type FixedIp,
  type NetworkRecord,
  type PortRecord,
  type SubnetRecord,
} from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { allowed } from '../policy.js';
import { NeutronError, badRequestFor, conflictOf, invalidInput, notFoundOf } from './errors.js';
import { disassociatePort } from './fip-bindings.js';
import { checkQuota } from './quotas.js';
import {
  enforceAddressChoice,
  enforceNet,
  enforcePortOn,
  enforceRouterDevice,
  loadForChange,
  portVisible,
  type Actor,
} from './policy.js';
import { given, loadNetwork, newRecord, projectFor, standardView } from './records.js';
import { ensureDefaultGroup, loadGroup } from './security-groups.js';
import { poolRanges } from './subnets.js';

/** A fixed IP as a request names it: a subnet, an address, or both. */
export interface FixedIpRequest {
  subnet_id?: string;
  ip_address?: string;
}

export interface PortCreate {
  network_id: string;
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  mac_address?: string;
  fixed_ips?: FixedIpRequest[];
  device_id?: string;
  device_owner?: string;
  security_groups?: string[];
  allowed_address_pairs?: { ip_address: string; mac_address?: string }[];
  port_security_enabled?: boolean;
  'binding:host_id'?: string;
  'binding:vnic_type'?: string;
  'binding:profile'?: Record<string, unknown>;
  project_id?: string;
  tenant_id?: string;
}

export type PortUpdate = Partial<Omit<PortCreate, 'network_id' | 'project_id' | 'tenant_id'>>;

/** The device owner of a router's interface ports. */
export const INTERFACE_OWNER = 'network:router_interface';

/** Owners that are the network's own machinery (routers, floating IPs, DHCP): no security groups. */
export const isNetworkOwned = (p: Pick<PortRecord, 'device_owner'>) => p.device_owner.startsWith('network:');

export function portView(actor: Actor, p: PortRecord) {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    network_id: p.network_id,
    mac_address: p.mac_address,
    admin_state_up: p.admin_state_up,
    status: p.status,
    device_id: p.device_id,
    device_owner: p.device_owner,
    fixed_ips: p.fixed_ips,
    security_groups: p.security_groups,
    allowed_address_pairs: p.allowed_address_pairs,
    extra_dhcp_opts: [],
    port_security_enabled: p.port_security_enabled,
    dns_name: '',
    qos_policy_id: null,
    qos_network_policy_id: null,
    propagate_uplink_status: false,
    'binding:vnic_type': p.binding_vnic_type,
    ...(allowed(actor, 'get_port:binding:host_id')
      ? {
          'binding:host_id': p.binding_host_id,
          'binding:profile': p.binding_profile,
          'binding:vif_type': p.binding_host_id ? 'tap' : 'unbound',
          'binding:vif_details': {},
        }
      : {}),
    ...standardView(p),
  };
}

/** What a port is made of, checked: the records module writes it. */
interface PortSpec {
  id: string;
  project: string;
  network: NetworkRecord;
  body: PortCreate;
  securityGroups: string[];
}

async function subnetsOf(gw: Gateway, network: NetworkRecord): Promise<SubnetRecord[]> {
  const all = await Promise.all(network.subnets.map((id) => gw.network.subnets.get(id)));
  return all.filter((s): s is SubnetRecord => s !== undefined);
}

/** The subnet and address each requested fixed IP means on the network (400 for one off the network). */
function resolveRequest(
  network: NetworkRecord,
  subnets: SubnetRecord[],
  r: FixedIpRequest,
): FixedIpRequest & { subnet: SubnetRecord } {
  const ip = r.ip_address === undefined ? undefined : parseIpv4(r.ip_address);
  if (r.ip_address !== undefined && ip === undefined) throw invalidInput(`'${r.ip_address}' is not a valid IP address`);
  const containing = (s: SubnetRecord) => ip === undefined || inCidr(parseCidr(s.cidr)!, ip);
  const subnet = r.subnet_id === undefined ? subnets.find(containing) : subnets.find((s) => s.id === r.subnet_id);
  if (!subnet && r.subnet_id !== undefined)
    throw invalidInput(
      `Failed to create port on network ${network.id}, because fixed_ips included invalid subnet ${r.subnet_id}`,
    );
  if (!subnet || (r.subnet_id === undefined && ip === undefined))
    throw invalidInput(`IP address ${r.ip_address} is not a valid IP for any of the subnets on the specified network`);
  const cidr = parseCidr(subnet.cidr)!;
  // The network and broadcast addresses are no host's (but in a /31).
  if (ip !== undefined && (!containing(subnet) || (cidr.prefix < 31 && (ip === cidr.base || ip === cidr.last))))
    throw invalidInput(`IP address ${r.ip_address} is not a valid IP for the specified subnet`);
  return { ...r, subnet };
}

/**
 * Claims the port's fixed IPs: those asked for, or (none asked for) the first free address of
 * the first subnet that has one. Gives back what it took when one claim fails.
 */
async function claimFixedIps(
  gw: Gateway,
  network: NetworkRecord,
  portId: string,
  requested: FixedIpRequest[] | undefined,
  keep: FixedIp[] = [],
): Promise<FixedIp[]> {
  const subnets = await subnetsOf(gw, network);
  const taken: FixedIp[] = [];
  try {
    if (requested === undefined) {
      for (const s of subnets) {
        const ip = await claimFirstFree(gw.redis, ipPool(s.id), portId, poolRanges(s), 'ipv4');
        if (ip !== undefined) return [{ subnet_id: s.id, ip_address: ip }];
      }
      if (subnets.length > 0)
        throw conflictOf('IpAddressGenerationFailure', `No more IP addresses available on network ${network.id}.`);
      return [];
    }
    for (const r of requested.map((x) => resolveRequest(network, subnets, x))) {
      const held = keep.find(
        (k) => k.subnet_id === r.subnet.id && (r.ip_address === undefined || k.ip_address === r.ip_address),
      );
      if (held) {
        taken.push(held);
        continue;
      }
      const ip =
        r.ip_address === undefined
          ? await claimFirstFree(gw.redis, ipPool(r.subnet.id), portId, poolRanges(r.subnet), 'ipv4')
          : (await claim(gw.redis, ipPool(r.subnet.id), r.ip_address, portId))
            ? r.ip_address
            : undefined;
      if (ip === undefined) {
        if (r.ip_address === undefined)
          throw conflictOf('IpAddressGenerationFailure', `No more IP addresses available on network ${network.id}.`);
        throw conflictOf(
          'IpAddressAlreadyAllocated',
          `IP address ${r.ip_address} already allocated in subnet ${r.subnet.id}`,
        );
      }
      taken.push({ subnet_id: r.subnet.id, ip_address: ip });
    }
    return taken;
  } catch (err) {
    await releaseIps(
      gw,
      portId,
      taken.filter((t) => !keep.includes(t)),
    );
    throw err;
  }
}

async function releaseIps(gw: Gateway, portId: string, ips: FixedIp[]): Promise<void> {
  for (const f of ips) await release(gw.redis, ipPool(f.subnet_id), f.ip_address, portId);
}

async function claimMac(
  gw: Gateway,
  network: NetworkRecord,
  portId: string,
  requested: string | undefined,
): Promise<string> {
  if (requested === undefined) {
    const mac = await claimRandomMac(gw.redis, network.id, portId);
    if (mac === undefined)
      throw new NeutronError(
        503,
        'MacAddressGenerationFailure',
        `Unable to generate unique mac on network ${network.id}.`,
      );
    return mac;
  }
  const mac = requested.toLowerCase();
  // A unicast MAC: the low bit of the first octet clear.
  if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(mac) || parseInt(mac.slice(0, 2), 16) % 2 === 1)
    throw invalidInput(`'${requested}' is not a valid MAC address`);
  if (!(await claim(gw.redis, macPool(network.id), mac, portId)))
    throw conflictOf(
      'MacAddressInUse',
      `Unable to complete operation for network ${network.id}. The mac address ${mac} is in use.`,
    );
  return mac;
}

function addressPairs(pairs: PortCreate['allowed_address_pairs'], mac: string): AddressPair[] {
  return (pairs ?? []).map((p) => {
    const [addr] = p.ip_address.split('/');
    if (parseIpv4(addr) === undefined || (p.ip_address.includes('/') && !parseCidr(p.ip_address, { loose: true })))
      throw invalidInput(`'${p.ip_address}' is not a valid IP address or CIDR`);
    return { ip_address: p.ip_address, mac_address: (p.mac_address ?? mac).toLowerCase() };
  });
}

/** Writes a checked port: its MAC and addresses claimed first, all given back if anything fails. */
async function writePort(gw: Gateway, spec: PortSpec): Promise<PortRecord> {
  const { id, network, body: b } = spec;
  const mac = await claimMac(gw, network, id, b.mac_address);
  try {
    const fixedIps = await claimFixedIps(gw, network, id, b.fixed_ips);
    const rec: PortRecord = {
      ...newRecord(spec.project, id),
      name: b.name ?? '',
      description: b.description ?? '',
      network_id: network.id,
      mac_address: mac,
      admin_state_up: b.admin_state_up ?? true,
      status: 'DOWN',
      device_id: b.device_id ?? '',
      device_owner: b.device_owner ?? '',
      fixed_ips: fixedIps,
      security_groups: spec.securityGroups,
      allowed_address_pairs: addressPairs(b.allowed_address_pairs, mac),
      port_security_enabled: b.port_security_enabled ?? network.port_security_enabled,
      binding_host_id: b['binding:host_id'] ?? '',
      binding_vnic_type: b['binding:vnic_type'] ?? 'normal',
      binding_profile: b['binding:profile'] ?? {},
    };
    try {
      await gw.network.ports.create(rec);
    } catch (err) {
      await releaseIps(gw, id, fixedIps);
      throw err;
    }
    return rec;
  } catch (err) {
    await release(gw.redis, macPool(network.id), mac, id);
    throw err;
  }
}

/** A port of the network's machinery (router gateway or interface, floating IP): no tenant checks, no security groups. */
export function createServicePort(
  gw: Gateway,
  network: NetworkRecord,
  project: string,
  owner: { device_owner: string; device_id: string },
  fixedIps?: FixedIpRequest[],
): Promise<PortRecord> {
  return writePort(gw, {
    id: randomUUID(),
    project,
    network,
    securityGroups: [],
    body: { network_id: network.id, ...owner, fixed_ips: fixedIps, port_security_enabled: false },
  });
}

/** Removes a port's record and gives back its addresses and MAC. */
export async function removePort(gw: Gateway, p: PortRecord): Promise<void> {
  await gw.network.ports.delete(p.id);
  await releaseIps(gw, p.id, p.fixed_ips);
  await release(gw.redis, macPool(p.network_id), p.mac_address, p.id);
}

/** Security groups a port gets: the ones asked for (the port project's own), or its project's default. */
async function groupsFor(
  gw: Gateway,
  actor: Actor,
  project: string,
  b: PortUpdate,
  portSecurity: boolean,
): Promise<string[]> {
  if (!portSecurity || (b.device_owner !== undefined && isNetworkOwned({ device_owner: b.device_owner }))) {
    if (b.security_groups?.length)
      throw badRequestFor(
        'port',
        'Port security must be enabled and port must have an IP address in order to use security groups',
      );
    return [];
  }
  if (b.security_groups === undefined) return [await ensureDefaultGroup(gw, project)];
  for (const id of b.security_groups) {
    const g = await loadGroup(gw, actor, id);
    if (g.project_id !== project) throw notFoundOf('security_group', id);
  }
  return [...new Set(b.security_groups)];
}

const choosesIp = (fixedIps: FixedIpRequest[] | undefined) =>
  fixedIps?.some((f) => f.ip_address !== undefined) ?? false;

/** A port of `project` made a router interface: the router must be the project's too. */
async function checkDevice(
  gw: Gateway,
  actor: Actor,
  project: string,
  b: Pick<PortUpdate, 'device_owner' | 'device_id'>,
) {
  if (b.device_owner === INTERFACE_OWNER && b.device_id)
    enforceRouterDevice(actor, project, await gw.network.routers.get(b.device_id));
}

export async function createPort(gw: Gateway, actor: Actor, b: PortCreate): Promise<PortRecord> {
  enforceNet(actor, 'create_port');
  if (b['binding:host_id'] !== undefined) enforceNet(actor, 'create_port:binding:host_id');
  const network = await loadNetwork(gw, actor, b.network_id);
  enforcePortOn(actor, network, 'create_port');
  enforceAddressChoice(actor, network, 'create_port', b.mac_address !== undefined || choosesIp(b.fixed_ips));
  const project = projectFor(actor, b, 'create_port');
  await checkDevice(gw, actor, project, b);
  await checkQuota(gw, project, 'port');
  const portSecurity = b.port_security_enabled ?? network.port_security_enabled;
  if (!portSecurity && b.allowed_address_pairs?.length)
    throw conflictOf(
      'AddressPairAndPortSecurityRequired',
      'Port Security must be enabled in order to have allowed address pairs on a port.',
    );
  const securityGroups = await groupsFor(gw, actor, project, b, portSecurity);
  return writePort(gw, { id: randomUUID(), project, network, body: b, securityGroups });
}

export async function loadPort(gw: Gateway, actor: Actor, id: string): Promise<PortRecord> {
  const p = await gw.network.ports.get(id);
  if (!p || !portVisible(actor, p, await gw.network.networks.get(p.network_id))) throw notFoundOf('port', id);
  return p;
}

export async function listPorts(gw: Gateway, actor: Actor): Promise<PortRecord[]> {
  enforceNet(actor, 'get_port');
  const networks = new Map((await gw.network.networks.list()).map((n) => [n.id, n]));
  return (await gw.network.ports.list()).filter((p) => portVisible(actor, p, networks.get(p.network_id)));
}

export async function showPort(gw: Gateway, actor: Actor, id: string): Promise<PortRecord> {
  enforceNet(actor, 'get_port');
  return loadPort(gw, actor, id);
}

export async function updatePort(gw: Gateway, actor: Actor, id: string, b: PortUpdate): Promise<PortRecord> {
  if (b['binding:host_id'] !== undefined) enforceNet(actor, 'update_port:binding:host_id');
  const p = await loadForChange(actor, 'update_port', () => loadPort(gw, actor, id));
  const network = (await gw.network.networks.get(p.network_id)) as NetworkRecord;
  enforceAddressChoice(actor, network, 'update_port', choosesIp(b.fixed_ips));
  if (b.device_owner !== undefined || b.device_id !== undefined)
    await checkDevice(gw, actor, p.project_id, {
      device_owner: b.device_owner ?? p.device_owner,
      device_id: b.device_id ?? p.device_id,
    });
  const portSecurity = b.port_security_enabled ?? p.port_security_enabled;
  const groups =
    b.security_groups !== undefined || b.port_security_enabled !== undefined
      ? await groupsFor(
          gw,
          actor,
          p.project_id,
          {
            ...b,
            security_groups: b.security_groups ?? (portSecurity ? p.security_groups : undefined),
            device_owner: b.device_owner ?? p.device_owner,
          },
          portSecurity,
        )
      : p.security_groups;
  const pairs =
    b.allowed_address_pairs === undefined
      ? p.allowed_address_pairs
      : addressPairs(b.allowed_address_pairs, p.mac_address);
  if (!portSecurity && pairs.length > 0)
    throw conflictOf(
      'AddressPairAndPortSecurityRequired',
      'Port Security must be enabled in order to have allowed address pairs on a port.',
    );
  const fixedIps =
    b.fixed_ips === undefined ? p.fixed_ips : await claimFixedIps(gw, network, id, b.fixed_ips, p.fixed_ips);
  const updated = await gw.network.ports.change(id, (cur) => ({
    ...cur,
    fixed_ips: fixedIps,
    security_groups: groups,
    allowed_address_pairs: pairs,
    port_security_enabled: portSecurity,
    ...given({
      name: b.name,
      description: b.description,
      admin_state_up: b.admin_state_up,
      device_id: b.device_id,
      device_owner: b.device_owner,
      binding_host_id: b['binding:host_id'],
      binding_vnic_type: b['binding:vnic_type'],
      binding_profile: b['binding:profile'],
    }),
  }));
  if (!updated) {
    await releaseIps(
      gw,
      id,
      fixedIps.filter((f) => !p.fixed_ips.includes(f)),
    );
    throw notFoundOf('port', id);
  }
  await releaseIps(
    gw,
    id,
    p.fixed_ips.filter((f) => !fixedIps.includes(f)),
  );
  return updated;
}

/** Deletes a tenant's port (a router's or floating IP's goes with its owner: 409), first letting go of its floating IPs. */
export async function deletePort(gw: Gateway, actor: Actor, id: string): Promise<void> {
  const p = await loadForChange(actor, 'delete_port', () => loadPort(gw, actor, id));
  if (/^network:(router_interface|router_gateway|floatingip)$/.test(p.device_owner))
    throw conflictOf(
      'ServicePortInUse',
      `Port ${id} cannot be deleted directly via the port API: has device owner ${p.device_owner}.`,
    );
  await disassociatePort(gw, id);
  await removePort(gw, p);
}
