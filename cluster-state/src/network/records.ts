// Neutron's records (networks, subnets, ports, routers, floating IPs, security groups and their
// rules) as JSON in one Redis hash per kind, keyed by id. Fields carry Neutron's attribute names,
// so the API shows a record with little more than its derived fields, and the agents that will
// plug ports read the same names Neutron's agents do.
import type { Redis } from 'ioredis';
import { changeJsonField, redisKeys } from '@hypernova/common';

/** What every record has. `project_id` is '' for network-owned ports (router gateways, floating IPs). */
export interface NetRecord {
  id: string;
  project_id: string;
  /** ISO 8601 without fractions, as Neutron shows them. */
  created_at: string;
  updated_at: string;
  revision_number: number;
}

export interface NetworkRecord extends NetRecord {
  name: string;
  description: string;
  admin_state_up: boolean;
  shared: boolean;
  external: boolean;
  port_security_enabled: boolean;
  network_type: 'vxlan' | 'flat';
  physical_network: string | null;
  segmentation_id: number | null;
  mtu: number;
  /** Ids of the network's subnets, in creation order (also what overlap checks compare-and-set on). */
  subnets: string[];
}

export interface AllocationPool {
  start: string;
  end: string;
}

export interface HostRoute {
  destination: string;
  nexthop: string;
}

export interface SubnetRecord extends NetRecord {
  name: string;
  description: string;
  network_id: string;
  ip_version: 4;
  cidr: string;
  gateway_ip: string | null;
  allocation_pools: AllocationPool[];
  enable_dhcp: boolean;
  dns_nameservers: string[];
  host_routes: HostRoute[];
}

export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}

export interface AddressPair {
  ip_address: string;
  mac_address: string;
}

export interface PortRecord extends NetRecord {
  name: string;
  description: string;
  network_id: string;
  mac_address: string;
  admin_state_up: boolean;
  status: 'ACTIVE' | 'DOWN' | 'BUILD';
  device_id: string;
  device_owner: string;
  fixed_ips: FixedIp[];
  security_groups: string[];
  allowed_address_pairs: AddressPair[];
  port_security_enabled: boolean;
  binding_host_id: string;
  binding_vnic_type: string;
  binding_profile: Record<string, unknown>;
}

export interface ExternalGateway {
  network_id: string;
  enable_snat: boolean;
  /** The router's address on the external network (its gateway port's fixed IPs). */
  external_fixed_ips: FixedIp[];
  /** The gateway port (device_owner network:router_gateway). */
  port_id: string;
}

export interface RouterRecord extends NetRecord {
  name: string;
  description: string;
  admin_state_up: boolean;
  external_gateway: ExternalGateway | null;
}

export interface FloatingIpRecord extends NetRecord {
  description: string;
  floating_network_id: string;
  floating_ip_address: string;
  /** The port holding the floating address on the external network (device_owner network:floatingip). */
  floating_port_id: string;
  port_id: string | null;
  fixed_ip_address: string | null;
  router_id: string | null;
}

export interface SecurityGroupRecord extends NetRecord {
  name: string;
  description: string;
  stateful: boolean;
}

export interface SecurityGroupRuleRecord extends NetRecord {
  security_group_id: string;
  description: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
}

export interface NetKinds {
  networks: NetworkRecord;
  subnets: SubnetRecord;
  ports: PortRecord;
  routers: RouterRecord;
  floatingips: FloatingIpRecord;
  'security-groups': SecurityGroupRecord;
  'security-group-rules': SecurityGroupRuleRecord;
}

export type NetKind = keyof NetKinds;

/** Neutron's timestamps: seconds, UTC, a Z. */
export const netTimestamp = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

/** One kind's records. */
export class NetTable<K extends NetKind> {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    kind: K,
  ) {
    this.key = redisKeys.netRecords(kind);
  }

  async get(id: string): Promise<NetKinds[K] | undefined> {
    const raw = await this.redis.hget(this.key, id);
    return raw ? (JSON.parse(raw) as NetKinds[K]) : undefined;
  }

  /** Every record, oldest first (ties by id), as Neutron lists by creation. */
  async list(): Promise<NetKinds[K][]> {
    const all = Object.values(await this.redis.hgetall(this.key)).map((raw) => JSON.parse(raw) as NetKinds[K]);
    return all.sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
  }

  /** Writes a new record; false when one with its id exists already (ids are the callers' to choose). */
  async create(rec: NetKinds[K]): Promise<boolean> {
    return (await this.redis.hsetnx(this.key, rec.id, JSON.stringify(rec))) === 1;
  }

  /**
   * Replaces the record by what `change` makes of it (null deletes it), atomically (a
   * compare-and-set that runs `change` again on a fresh record when another writer got in
   * between); `change` may throw to refuse. Bumps revision_number and updated_at. Returns the
   * written record (the old one when deleted); undefined when there is none.
   */
  change(id: string, change: (current: NetKinds[K]) => NetKinds[K] | null): Promise<NetKinds[K] | undefined> {
    return changeJsonField<NetKinds[K]>(this.redis, this.key, id, (current) => {
      const next = change(current);
      if (next === null) return null;
      return { ...next, id, revision_number: current.revision_number + 1, updated_at: netTimestamp() };
    });
  }

  /** Removes the record; whether it was there. */
  async delete(id: string): Promise<boolean> {
    return (await this.redis.hdel(this.key, id)) === 1;
  }
}

/** The tables of every kind over one Redis connection. */
export class NetworkState {
  readonly networks: NetTable<'networks'>;
  readonly subnets: NetTable<'subnets'>;
  readonly ports: NetTable<'ports'>;
  readonly routers: NetTable<'routers'>;
  readonly floatingips: NetTable<'floatingips'>;
  readonly securityGroups: NetTable<'security-groups'>;
  readonly securityGroupRules: NetTable<'security-group-rules'>;

  constructor(readonly redis: Redis) {
    this.networks = new NetTable(redis, 'networks');
    this.subnets = new NetTable(redis, 'subnets');
    this.ports = new NetTable(redis, 'ports');
    this.routers = new NetTable(redis, 'routers');
    this.floatingips = new NetTable(redis, 'floatingips');
    this.securityGroups = new NetTable(redis, 'security-groups');
    this.securityGroupRules = new NetTable(redis, 'security-group-rules');
  }

  /** A kind's table, for code that handles every kind alike (quota counts). */
  table(kind: NetKind): NetTable<NetKind> {
    return new NetTable(this.redis, kind);
  }
}
