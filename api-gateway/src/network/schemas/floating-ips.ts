import { longStr, nullableStr, owned, str, wrapped } from './common.js';

const mutable = { port_id: nullableStr, fixed_ip_address: nullableStr, description: longStr };

export const createFloatingIpSchema = wrapped(
  'floatingip',
  { ...mutable, ...owned, floating_network_id: str, floating_ip_address: str, subnet_id: str },
  ['floating_network_id'],
);
export const updateFloatingIpSchema = wrapped('floatingip', mutable);
