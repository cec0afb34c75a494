import { bool, longStr, nullableStr, owned, str, strList, wrapped } from './common.js';

const pools = {
  type: 'array',
  items: {
    type: 'object',
    required: ['start', 'end'],
    additionalProperties: false,
    properties: { start: str, end: str },
  },
} as const;
const routes = {
  type: 'array',
  items: {
    type: 'object',
    required: ['destination', 'nexthop'],
    additionalProperties: false,
    properties: { destination: str, nexthop: str },
  },
} as const;

const mutable = {
  name: str,
  description: longStr,
  gateway_ip: nullableStr,
  allocation_pools: pools,
  enable_dhcp: bool,
  dns_nameservers: strList,
  host_routes: routes,
};

export const createSubnetSchema = wrapped(
  'subnet',
  {
    ...mutable,
    ...owned,
    network_id: str,
    cidr: str,
    // Only IPv4 subnets are served.
    ip_version: { type: 'integer', enum: [4] },
    subnetpool_id: { type: 'null' },
    service_types: { type: 'array', maxItems: 0 },
  },
  ['network_id', 'cidr'],
);
export const updateSubnetSchema = wrapped('subnet', mutable);
