import { bool, fixedIps, longStr, owned, str, strList, wrapped } from './common.js';

const gatewayInfo = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { network_id: str, enable_snat: bool, external_fixed_ips: fixedIps, qos_policy_id: { type: 'null' } },
} as const;

const mutable = { name: str, description: longStr, admin_state_up: bool, external_gateway_info: gatewayInfo };

export const createRouterSchema = wrapped('router', {
  ...mutable,
  ...owned,
  // Only centralized, non-HA routers are served.
  distributed: { type: 'boolean', enum: [false] },
  ha: { type: 'boolean', enum: [false] },
  availability_zone_hints: strList,
});
export const updateRouterSchema = wrapped('router', mutable);

export const routerInterfaceSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { subnet_id: str, port_id: str },
} as const;
