// Floating IPs: an address on an external network (held by a port of device_owner
// network:floatingip), associated with a tenant port's fixed IP when a router joins the two:
// an interface on the fixed IP's subnet and its gateway on the floating IP's network (Neutron's
// ExternalGatewayForFloatingIPNotFound otherwise).
import type { FloatingIpRecord, PortRecord } from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { NeutronError, badRequestFor, conflictOf, notFoundOf } from './errors.js';
import { bindFixedIp, unassociated, unbindFixedIp } from './fip-bindings.js';
import { checkQuota } from './quotas.js';
import { enforceNet, enforceOwner, loadForChange, ownedVisible, type Actor } from './policy.js';
import { INTERFACE_OWNER, createServicePort, isNetworkOwned, loadPort, removePort } from './ports.js';
import { given, loadNetwork, newRecord, projectFor, standardView } from './records.js';

export interface FloatingIpCreate {
  floating_network_id: string;
  floating_ip_address?: string;
  subnet_id?: string;
  port_id?: string | null;
  fixed_ip_address?: string | null;
  description?: string;
  project_id?: string;
  tenant_id?: string;
}

export type FloatingIpUpdate = Pick<FloatingIpCreate, 'port_id' | 'fixed_ip_address' | 'description'>;

export function floatingIpView(f: FloatingIpRecord, port: PortRecord | undefined) {
  return {
    id: f.id,
    floating_ip_address: f.floating_ip_address,
    floating_network_id: f.floating_network_id,
    router_id: f.router_id,
    port_id: f.port_id,
    fixed_ip_address: f.fixed_ip_address,
    // No L3 agent reports yet: associated is as far as it goes.
    status: f.port_id === null ? 'DOWN' : 'ACTIVE',
    description: f.description,
    dns_domain: '',
    dns_name: '',
    qos_policy_id: null,
    port_forwardings: [],
    port_details:
      port === undefined
        ? null
        : {
            name: port.name,
            network_id: port.network_id,
            mac_address: port.mac_address,
            admin_state_up: port.admin_state_up,
            status: port.status,
            device_id: port.device_id,
            device_owner: port.device_owner,
          },
    ...standardView(f),
  };
}

export async function loadFloatingIp(gw: Gateway, actor: Actor, id: string): Promise<FloatingIpRecord> {
  const f = await gw.network.floatingips.get(id);
  if (!f || !ownedVisible(actor, f)) throw notFoundOf('floatingip', id);
  return f;
}

/** The fixed IP of the port the floating IP goes to: the one asked for, or its only IPv4 address. */
function fixedIpOf(port: PortRecord, requested: string | null | undefined): string {
  if (requested !== undefined && requested !== null) {
    if (!port.fixed_ips.some((f) => f.ip_address === requested))
      throw badRequestFor('floatingip', `Port ${port.id} does not have fixed ip ${requested}`);
    return requested;
  }
  if (port.fixed_ips.length === 0) throw badRequestFor('floatingip', `Port ${port.id} does not have any IPv4 address`);
  if (port.fixed_ips.length > 1)
    throw badRequestFor(
      'floatingip',
      `Port ${port.id} has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP`,
    );
  return port.fixed_ips[0].ip_address;
}

/** The router joining the fixed IP's subnet to the floating IP's network; 404 when there is none. */
async function routerFor(gw: Gateway, f: FloatingIpRecord, port: PortRecord, fixedIp: string): Promise<string> {
  const subnet = port.fixed_ips.find((x) => x.ip_address === fixedIp)!.subnet_id;
  const routers = (await gw.network.routers.list()).filter(
    (r) => r.external_gateway?.network_id === f.floating_network_id,
  );
  const ports = await gw.network.ports.list();
  const router = routers.find((r) =>
    ports.some(
      (p) =>
        p.device_id === r.id && p.device_owner === INTERFACE_OWNER && p.fixed_ips.some((x) => x.subnet_id === subnet),
    ),
  );
  if (!router)
    throw new NeutronError(
      404,
      'ExternalGatewayForFloatingIPNotFound',
      `External network ${f.floating_network_id} is not reachable from subnet ${subnet}.  Therefore, cannot associate Port ${port.id} with a Floating IP.`,
    );
  return router.id;
}

/** The floating IP associated with the port (its fixed IP bound), or unassociated when port_id is null. */
async function associate(
  gw: Gateway,
  actor: Actor,
  f: FloatingIpRecord,
  portId: string | null,
  requestedIp: string | null | undefined,
): Promise<FloatingIpRecord> {
  if (portId === null) return unassociated(f);
  const port = await loadPort(gw, actor, portId);
  enforceOwner(actor, port, 'update_floatingip');
  if (isNetworkOwned(port))
    throw badRequestFor(
      'floatingip',
      `Port ${port.id} has owner ${port.device_owner} and therefore cannot be associated with a floating IP`,
    );
  const fixedIp = fixedIpOf(port, requestedIp);
  const routerId = await routerFor(gw, f, port, fixedIp);
  if (f.port_id === port.id && f.fixed_ip_address === fixedIp) return f;
  if (!(await bindFixedIp(gw, f, port.id, fixedIp)))
    throw conflictOf(
      'FloatingIPPortAlreadyAssociated',
      `Cannot associate floating IP ${f.floating_ip_address} (${f.id}) with port ${port.id} using fixed IP ${fixedIp}, as that fixed IP already has a floating IP on external network ${f.floating_network_id}.`,
    );
  return { ...f, port_id: port.id, fixed_ip_address: fixedIp, router_id: routerId };
}

export async function createFloatingIp(gw: Gateway, actor: Actor, b: FloatingIpCreate): Promise<FloatingIpRecord> {
  enforceNet(actor, 'create_floatingip');
  if (b.floating_ip_address !== undefined) enforceNet(actor, 'create_floatingip:floating_ip_address');
  const project = projectFor(actor, b, 'create_floatingip');
  const network = await loadNetwork(gw, actor, b.floating_network_id);
  if (!network.external) throw badRequestFor('floatingip', `Network ${network.id} is not a valid external network`);
  if (network.subnets.length === 0)
    throw badRequestFor('floatingip', `Network ${network.id} does not contain any IPv4 subnet`);
  await checkQuota(gw, project, 'floatingip');
  const base = newRecord(project);
  const requested =
    b.floating_ip_address !== undefined || b.subnet_id !== undefined
      ? [{ subnet_id: b.subnet_id, ip_address: b.floating_ip_address }]
      : undefined;
  const port = await createServicePort(
    gw,
    network,
    '',
    { device_owner: 'network:floatingip', device_id: base.id },
    requested,
  );
  const unbound: FloatingIpRecord = {
    ...base,
    description: b.description ?? '',
    floating_network_id: network.id,
    floating_ip_address: port.fixed_ips[0].ip_address,
    floating_port_id: port.id,
    port_id: null,
    fixed_ip_address: null,
    router_id: null,
  };
  try {
    const rec = await associate(gw, actor, unbound, b.port_id ?? null, b.fixed_ip_address);
    await gw.network.floatingips.create(rec);
    return rec;
  } catch (err) {
    await unbindFixedIp(gw, { ...unbound, port_id: b.port_id ?? null, fixed_ip_address: b.fixed_ip_address ?? null });
    await removePort(gw, port);
    throw err;
  }
}

export async function listFloatingIps(gw: Gateway, actor: Actor): Promise<FloatingIpRecord[]> {
  enforceNet(actor, 'get_floatingip');
  return (await gw.network.floatingips.list()).filter((f) => ownedVisible(actor, f));
}

export async function showFloatingIp(gw: Gateway, actor: Actor, id: string): Promise<FloatingIpRecord> {
  enforceNet(actor, 'get_floatingip');
  return loadFloatingIp(gw, actor, id);
}

export async function updateFloatingIp(
  gw: Gateway,
  actor: Actor,
  id: string,
  b: FloatingIpUpdate,
): Promise<FloatingIpRecord> {
  const f = await loadForChange(actor, 'update_floatingip', () => loadFloatingIp(gw, actor, id));
  let next = f;
  if (b.port_id !== undefined) {
    next = await associate(gw, actor, f, b.port_id, b.fixed_ip_address);
    if (next.port_id !== f.port_id || next.fixed_ip_address !== f.fixed_ip_address) await unbindFixedIp(gw, f);
  }
  const updated = await gw.network.floatingips.change(id, (cur) => ({
    ...cur,
    port_id: next.port_id,
    fixed_ip_address: next.fixed_ip_address,
    router_id: next.router_id,
    ...given({ description: b.description }),
  }));
  if (!updated) throw notFoundOf('floatingip', id);
  return updated;
}

export async function deleteFloatingIp(gw: Gateway, actor: Actor, id: string): Promise<void> {
  const f = await loadForChange(actor, 'delete_floatingip', () => loadFloatingIp(gw, actor, id));
  await unbindFixedIp(gw, f);
  await gw.network.floatingips.delete(id);
  const port = await gw.network.ports.get(f.floating_port_id);
  if (port) await removePort(gw, port);
}
