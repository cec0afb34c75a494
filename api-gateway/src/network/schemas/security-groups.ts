import { bool, longStr, nullableStr, owned, str, wrapped } from './common.js';

const port = { type: ['integer', 'null'], minimum: 0, maximum: 65535 } as const;

export const createGroupSchema = wrapped('security_group', {
  name: str,
  description: longStr,
  stateful: bool,
  ...owned,
});
export const updateGroupSchema = wrapped('security_group', { name: str, description: longStr });

export const createRuleSchema = wrapped(
  'security_group_rule',
  {
    ...owned,
    security_group_id: str,
    direction: { type: 'string', enum: ['ingress', 'egress'] },
    ethertype: { type: 'string', enum: ['IPv4', 'IPv6'] },
    protocol: { type: ['string', 'integer', 'null'] },
    port_range_min: port,
    port_range_max: port,
    remote_ip_prefix: nullableStr,
    remote_group_id: nullableStr,
    remote_address_group_id: { type: 'null' },
    description: longStr,
  },
  ['security_group_id', 'direction'],
);
