import { bool, fixedIps, longStr, owned, str, strList, wrapped } from './common.js';

const mutable = {
  name: str,
  description: longStr,
  admin_state_up: bool,
  fixed_ips: fixedIps,
  device_id: str,
  device_owner: str,
  security_groups: strList,
  allowed_address_pairs: {
    type: 'array',
    items: {
      type: 'object',
      required: ['ip_address'],
      additionalProperties: false,
      properties: { ip_address: str, mac_address: str },
    },
  },
  port_security_enabled: bool,
  'binding:host_id': str,
  'binding:vnic_type': {
    type: 'string',
    enum: [
      'normal',
      'direct',
      'macvtap',
      'baremetal',
      'direct-physical',
      'virtio-forwarder',
      'smart-nic',
      'remote-managed',
    ],
  },
  'binding:profile': { type: 'object' },
};

export const createPortSchema = wrapped('port', { ...mutable, ...owned, network_id: str, mac_address: str }, [
  'network_id',
]);
export const updatePortSchema = wrapped('port', mutable);
