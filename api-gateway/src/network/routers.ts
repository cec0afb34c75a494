// Routers: an external gateway (a port on an external network holding the router's SNAT
// address) and interfaces (ports at a subnet's gateway address, or ports the tenant made),
// added and removed by subnet or by port. Floating IPs reach a fixed IP through a router that
// has both: an interface on its subnet and its gateway on the floating IP's network.
import type { PortRecord, RouterRecord } from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { NeutronError, badRequestFor, conflictOf, notFoundOf } from './errors.js';
import { checkQuota } from './quotas.js';
import { enforceInterfaceSubnet, enforceNet, enforceOwner, loadForChange, ownedVisible, type Actor } from './policy.js';
import { INTERFACE_OWNER, createServicePort, loadPort, removePort, type FixedIpRequest } from './ports.js';
import { given, loadNetwork, newRecord, projectFor, standardView } from './records.js';
import { loadSubnet } from './subnets.js';

export interface GatewayInfo {
  network_id: string;
  enable_snat?: boolean;
  external_fixed_ips?: FixedIpRequest[];
}

export interface RouterCreate {
  name?: string;
  description?: string;
  admin_state_up?: boolean;
  external_gateway_info?: GatewayInfo | Record<string, never> | null;
  distributed?: boolean;
  ha?: boolean;
  availability_zone_hints?: string[];
  project_id?: string;
  tenant_id?: string;
}

export type RouterUpdate = Omit<
  RouterCreate,
  'project_id' | 'tenant_id' | 'distributed' | 'ha' | 'availability_zone_hints'
>;

const GATEWAY_OWNER = 'network:router_gateway';

export function routerView(actor: Actor, r: RouterRecord) {
  const g = r.external_gateway;
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    admin_state_up: r.admin_state_up,
    status: 'ACTIVE',
    external_gateway_info:
      g === null
        ? null
        : { network_id: g.network_id, enable_snat: g.enable_snat, external_fixed_ips: g.external_fixed_ips },
    routes: [],
    availability_zone_hints: [],
    availability_zones: [],
    flavor_id: null,
    ...(actor.isAdmin ? { distributed: false, ha: false } : {}),
    ...standardView(r),
  };
}

export async function loadRouter(gw: Gateway, actor: Actor, id: string): Promise<RouterRecord> {
  const r = await gw.network.routers.get(id);
  if (!r || !ownedVisible(actor, r)) throw notFoundOf('router', id);
  return r;
}

/** The router's interface ports. */
export async function routerInterfaces(gw: Gateway, routerId: string): Promise<PortRecord[]> {
  return (await gw.network.ports.list()).filter((p) => p.device_id === routerId && p.device_owner === INTERFACE_OWNER);
}

/** Whether `info` names no gateway (Neutron clears the gateway with {} or null). */
const noGateway = (info: RouterCreate['external_gateway_info']): info is null | Record<string, never> | undefined =>
  info === undefined || info === null || !('network_id' in info);

/** Makes the gateway port on the external network; the router's external_gateway from it. */
async function openGateway(gw: Gateway, actor: Actor, routerId: string, info: GatewayInfo, action: string) {
  if (info.external_fixed_ips !== undefined) enforceNet(actor, `${action}:external_gateway_info:external_fixed_ips`);
  const network = await loadNetwork(gw, actor, info.network_id);
  if (!network.external) throw badRequestFor('router', `Network ${network.id} is not a valid external network`);
  const port = await createServicePort(
    gw,
    network,
    '',
    { device_owner: GATEWAY_OWNER, device_id: routerId },
    info.external_fixed_ips,
  );
  return {
    network_id: network.id,
    enable_snat: info.enable_snat ?? true,
    external_fixed_ips: port.fixed_ips,
    port_id: port.id,
  };
}

/** Removes the gateway port, unless floating IPs still go through it (409). */
async function closeGateway(gw: Gateway, r: RouterRecord): Promise<void> {
  const g = r.external_gateway;
  if (g === null) return;
  if ((await gw.network.floatingips.list()).some((f) => f.router_id === r.id))
    throw conflictOf(
      'RouterExternalGatewayInUseByFloatingIp',
      `Gateway cannot be updated for router ${r.id}, since a gateway to external network ${g.network_id} is required by one or more floating IPs.`,
    );
  const port = await gw.network.ports.get(g.port_id);
  if (port) await removePort(gw, port);
}

export async function createRouter(gw: Gateway, actor: Actor, b: RouterCreate): Promise<RouterRecord> {
  enforceNet(actor, 'create_router');
  const project = projectFor(actor, b, 'create_router');
  await checkQuota(gw, project, 'router');
  const base = newRecord(project);
  const info = b.external_gateway_info;
  const rec: RouterRecord = {
    ...base,
    name: b.name ?? '',
    description: b.description ?? '',
    admin_state_up: b.admin_state_up ?? true,
    external_gateway: noGateway(info) ? null : await openGateway(gw, actor, base.id, info, 'create_router'),
  };
  await gw.network.routers.create(rec);
  return rec;
}

export async function listRouters(gw: Gateway, actor: Actor): Promise<RouterRecord[]> {
  enforceNet(actor, 'get_router');
  return (await gw.network.routers.list()).filter((r) => ownedVisible(actor, r));
}

export async function showRouter(gw: Gateway, actor: Actor, id: string): Promise<RouterRecord> {
  enforceNet(actor, 'get_router');
  return loadRouter(gw, actor, id);
}

export async function updateRouter(gw: Gateway, actor: Actor, id: string, b: RouterUpdate): Promise<RouterRecord> {
  const r = await loadForChange(actor, 'update_router', () => loadRouter(gw, actor, id));
  let gateway = r.external_gateway;
  const info = b.external_gateway_info;
  if (info !== undefined) {
    const same = !noGateway(info) && gateway !== null && info.network_id === gateway.network_id;
    if (same && info.external_fixed_ips === undefined) {
      gateway = { ...gateway!, enable_snat: info.enable_snat ?? gateway!.enable_snat };
    } else {
      await closeGateway(gw, r);
      gateway = noGateway(info) ? null : await openGateway(gw, actor, id, info, 'update_router');
    }
  }
  const updated = await gw.network.routers.change(id, (cur) => ({
    ...cur,
    external_gateway: gateway,
    ...given({ name: b.name, description: b.description, admin_state_up: b.admin_state_up }),
  }));
  if (!updated) throw notFoundOf('router', id);
  return updated;
}

export async function deleteRouter(gw: Gateway, actor: Actor, id: string): Promise<void> {
  const r = await loadForChange(actor, 'delete_router', () => loadRouter(gw, actor, id));
  if ((await routerInterfaces(gw, id)).length > 0) throw conflictOf('RouterInUse', `Router ${id} still has ports`);
  await closeGateway(gw, r);
  await gw.network.routers.delete(id);
}

/** What add/remove_router_interface answer. */
export function interfaceInfo(r: RouterRecord, port: PortRecord) {
  const subnets = port.fixed_ips.map((f) => f.subnet_id);
  return {
    id: r.id,
    tenant_id: r.project_id,
    project_id: r.project_id,
    port_id: port.id,
    network_id: port.network_id,
    subnet_id: subnets[0],
    subnet_ids: subnets,
  };
}

/** 400 unless exactly one of subnet_id and port_id is given. */
function interfaceTarget(b: { subnet_id?: string; port_id?: string }): { subnet_id: string } | { port_id: string } {
  if (b.subnet_id !== undefined && b.port_id !== undefined)
    throw badRequestFor('router', 'Cannot specify both subnet-id and port-id');
  if (b.port_id !== undefined) return { port_id: b.port_id };
  if (b.subnet_id !== undefined) return { subnet_id: b.subnet_id };
  throw badRequestFor('router', 'Either subnet_id or port_id must be specified');
}

export async function addInterface(
  gw: Gateway,
  actor: Actor,
  id: string,
  b: { subnet_id?: string; port_id?: string },
): Promise<{ router: RouterRecord; port: PortRecord }> {
  const r = await loadForChange(actor, 'add_router_interface', () => loadRouter(gw, actor, id));
  const target = interfaceTarget(b);
  const existing = await routerInterfaces(gw, id);
  const attached = new Set(existing.flatMap((p) => p.fixed_ips.map((f) => f.subnet_id)));
  if ('port_id' in target) {
    const port = await loadPort(gw, actor, target.port_id);
    enforceOwner(actor, port, 'add_router_interface');
    if (port.device_id !== '')
      throw conflictOf(
        'PortInUse',
        `Unable to complete operation on port ${port.id} for network ${port.network_id}. Port already has an attached device ${port.device_id}.`,
      );
    if (port.fixed_ips.length === 0) throw badRequestFor('router', 'Router port must have at least one fixed IP');
    for (const f of port.fixed_ips)
      if (attached.has(f.subnet_id))
        throw badRequestFor('router', `Router already has a port on subnet ${f.subnet_id}`);
    const updated = await gw.network.ports.change(port.id, (cur) => ({
      ...cur,
      device_id: id,
      device_owner: INTERFACE_OWNER,
      security_groups: [],
    }));
    if (!updated) throw notFoundOf('port', port.id);
    return { router: r, port: updated };
  }
  const subnet = await loadSubnet(gw, actor, target.subnet_id);
  enforceInterfaceSubnet(actor, subnet);
  if (subnet.gateway_ip === null) throw badRequestFor('router', `Subnet ${subnet.id} does not have a gateway IP`);
  if (attached.has(subnet.id)) throw badRequestFor('router', `Router already has a port on subnet ${subnet.id}`);
  const network = await loadNetwork(gw, actor, subnet.network_id);
  const port = await createServicePort(gw, network, r.project_id, { device_owner: INTERFACE_OWNER, device_id: id }, [
    { subnet_id: subnet.id, ip_address: subnet.gateway_ip },
  ]);
  return { router: r, port };
}

export async function removeInterface(
  gw: Gateway,
  actor: Actor,
  id: string,
  b: { subnet_id?: string; port_id?: string },
): Promise<{ router: RouterRecord; port: PortRecord }> {
  const r = await loadForChange(actor, 'remove_router_interface', () => loadRouter(gw, actor, id));
  const target = interfaceTarget(b);
  const interfaces = await routerInterfaces(gw, id);
  const port =
    'port_id' in target
      ? interfaces.find((p) => p.id === target.port_id)
      : interfaces.find((p) => p.fixed_ips.some((f) => f.subnet_id === target.subnet_id));
  if (!port) {
    if ('port_id' in target)
      throw new NeutronError(
        404,
        'RouterInterfaceNotFound',
        `Router ${id} does not have an interface with id ${target.port_id}`,
      );
    throw new NeutronError(
      404,
      'RouterInterfaceNotFoundForSubnet',
      `Router ${id} has no interface on subnet ${target.subnet_id}`,
    );
  }
  const subnets = new Set(port.fixed_ips.map((f) => f.subnet_id));
  const fips = await gw.network.floatingips.list();
  for (const f of fips) {
    if (f.router_id !== id || f.port_id === null) continue;
    const inner = await gw.network.ports.get(f.port_id);
    if (inner?.fixed_ips.some((x) => subnets.has(x.subnet_id) && x.ip_address === f.fixed_ip_address))
      throw conflictOf(
        'RouterInterfaceInUseByFloatingIP',
        `Router interface for subnet ${[...subnets][0]} on router ${id} cannot be deleted, as it is required by one or more floating IPs.`,
      );
  }
  await removePort(gw, port);
  return { router: r, port };
}
