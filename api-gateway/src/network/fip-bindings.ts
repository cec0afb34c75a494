// Which floating IP a fixed IP is bound to: a port's fixed address has at most one floating IP
// per external network, claimed in a pool (member "<port>|<fixed ip>", owner the floating IP) so
// that two associations racing for it cannot both win.
import { claim, release, type FloatingIpRecord } from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';

const bindingPool = (externalNetwork: string) => `floating:${externalNetwork}`;
const member = (portId: string, fixedIp: string) => `${portId}|${fixedIp}`;

/** Takes the fixed IP for the floating IP; false when another floating IP holds it. */
export function bindFixedIp(gw: Gateway, fip: FloatingIpRecord, portId: string, fixedIp: string): Promise<boolean> {
  return claim(gw.redis, bindingPool(fip.floating_network_id), member(portId, fixedIp), fip.id);
}

/** Lets go of the fixed IP the floating IP is bound to, if any. */
export async function unbindFixedIp(gw: Gateway, fip: FloatingIpRecord): Promise<void> {
  if (fip.port_id !== null && fip.fixed_ip_address !== null)
    await release(gw.redis, bindingPool(fip.floating_network_id), member(fip.port_id, fip.fixed_ip_address), fip.id);
}

/** The floating IP's association fields cleared. */
export const unassociated = (f: FloatingIpRecord): FloatingIpRecord => ({
  ...f,
  port_id: null,
  fixed_ip_address: null,
  router_id: null,
});

/** Disassociates every floating IP from the port (it is being deleted). */
export async function disassociatePort(gw: Gateway, portId: string): Promise<void> {
  for (const f of await gw.network.floatingips.list()) {
    if (f.port_id !== portId) continue;
    await unbindFixedIp(gw, f);
    await gw.network.floatingips.change(f.id, unassociated);
  }
}
