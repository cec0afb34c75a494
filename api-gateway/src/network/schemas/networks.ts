import { bool, longStr, nullableStr, owned, str, strList, wrapped } from './common.js';

const attributes = {
  name: str,
  description: longStr,
  admin_state_up: bool,
  shared: bool,
  'router:external': bool,
  port_security_enabled: bool,
  mtu: { type: 'integer' },
  'provider:network_type': { type: 'string', enum: ['vxlan', 'flat'] },
  'provider:physical_network': nullableStr,
  'provider:segmentation_id': { type: ['integer', 'null'] },
  availability_zone_hints: strList,
  is_default: bool,
};

export const createNetworkSchema = wrapped('network', { ...attributes, ...owned });
export const updateNetworkSchema = wrapped('network', attributes);
