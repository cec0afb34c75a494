// Every Redis key the services use, in one place, with what it holds. Names are built only
// here so that a key's layout can change without hunting strings across services.
const P = 'hn';

export const redisKeys = {
  /** SET of the names of every registered compute host. */
  hosts: () => `${P}:hosts`,
  /** HASH: a host's record (see host-registry.ts) plus its usage counters used_vcpus/used_ram_mb/used_disk_gb. */
  host: (name: string) => `${P}:host:${name}`,
  /** STRING with a TTL, refreshed by the host's heartbeat: the host is up while it exists. */
  hostAlive: (name: string) => `${P}:host:${name}:alive`,
  /** SET of the consumer uuids holding an allocation on the host. */
  hostAllocations: (name: string) => `${P}:host:${name}:allocations`,
  /** HASH: one consumer's (instance's or migration's) allocation: host, vcpus, ram_mb, disk_gb, group, id. */
  allocation: (consumer: string) => `${P}:allocation:${consumer}`,
  /** HASH uid -> instance uuid: the uids a host's VM processes run as (compute confinement.ts). */
  hostVmUids: (name: string) => `${P}:host:${name}:vm-uids`,
  /** HASH consumer uuid -> host for the members of a server group (affinity filters). */
  groupMembers: (group: string) => `${P}:group:${group}:members`,

  /** SET of every instance uuid. */
  instances: () => `${P}:instances`,
  /** HASH: an instance's record (vm_state, task_state, power_state, flavor, image, ...). */
  instance: (uuid: string) => `${P}:instance:${uuid}`,
  /** SET of a project's instance uuids. */
  projectInstances: (project: string) => `${P}:project:${project}:instances`,
  /** SET of the instance uuids a host runs. */
  hostInstances: (host: string) => `${P}:host:${host}:instances`,
  /** HASH request id -> JSON of one of the instance's actions with its events (os-instance-actions). */
  instanceActions: (uuid: string) => `${P}:instance:${uuid}:actions`,
  /** STRING: the host that owns (runs) the instance; a live migration flips it in one atomic step. */
  instanceOwner: (uuid: string) => `${P}:instance:${uuid}:owner`,
  /** HASH: a live migration's record (Nova's Migration: status, hosts, memory and disk progress). */
  migration: (id: string) => `${P}:migration:${id}`,
  /** ZSET of every migration id, scored by its integer id (os-migrations lists them in order). */
  migrations: () => `${P}:migrations`,
  /** ZSET of the ids of the migrations still in progress (a status of MIGRATION_IN_PROGRESS), scored by integer id. */
  migrationsInProgress: () => `${P}:migrations:in-progress`,
  /** STRING with a TTL, renewed by the gateway driving the live migration: that gateway's id while it lives. */
  migrationLease: (id: string) => `${P}:migration:${id}:lease`,
  /** Held by the gateway running one of the instance's tasks (api-gateway tasks.ts). */
  instanceTaskLease: (uuid: string) => `${P}:instance:${uuid}:task-lease`,
  /** ZSET of an instance's migration ids, scored by integer id. */
  instanceMigrations: (uuid: string) => `${P}:instance:${uuid}:migrations`,
  /** STRING: a live migration's outcome once decided (committed or aborted), set once. */
  migrationOutcome: (id: string) => `${P}:migration:${id}:outcome`,
  /** STRING counter of a sequence of integer ids: instance (Nova's instance-%08x names), host (integer hypervisor/service ids). */
  seq: (name: string) => `${P}:seq:${name}`,
  /** HASH host name -> its integer id, for the APIs whose ids are integers (os-hypervisors, os-services below 2.53). */
  hostIds: () => `${P}:host-ids`,

  /** HASH id -> JSON of every Keystone entity of a kind (domains, projects, users, roles). */
  identity: (kind: string) => `${P}:identity:${kind}`,
  /** HASH "<domain id>/<name>" -> id: names are unique within a domain (roles use domain ''). */
  identityNames: (kind: string) => `${P}:identity:${kind}:names`,
  /** SET of the role ids a user holds on a project. */
  roleAssignment: (project: string, user: string) => `${P}:identity:assignment:${project}:${user}`,
  /** SET of "<project> <user>" pairs holding roles, to list assignments without scanning keys. */
  roleAssignmentPairs: () => `${P}:identity:assignments`,
  /** STRING with a TTL: an issued token's data, under the token's SHA-256 so Redis never holds usable tokens. */
  token: (digest: string) => `${P}:token:${digest}`,
  /** STRING counter, bumped to revoke every token a user holds (disabled, new password, role removed). */
  userTokenEpoch: (user: string) => `${P}:identity:user:${user}:token-epoch`,
  /** STRING counter with a TTL of the lockout window: recent failed logins of a user (or unknown name). */
  loginFailures: (subject: string) => `${P}:identity:login-failures:${subject}`,
  /** STRING counter with a TTL of the lockout window: recent failed logins from a source address. */
  loginFailuresFrom: (address: string) => `${P}:identity:login-failures-from:${address}`,

  /** HASH flavor id -> JSON flavor. */
  flavors: () => `${P}:flavors`,
  /** HASH image id -> JSON image record (see images.ts). */
  images: () => `${P}:images`,
  /** HASH server group uuid -> JSON server group (policy, project, name). */
  serverGroups: () => `${P}:server-groups`,
  /** HASH keypair name -> JSON keypair, one per user (os-keypairs). */
  keypairs: (user: string) => `${P}:user:${user}:keypairs`,
  /** HASH resource -> limit: a project's quota limits that differ from the defaults (os-quota-sets). */
  quotas: (project: string) => `${P}:project:${project}:quotas`,

  /** HASH id -> JSON of every Neutron record of a kind (networks, subnets, ports, routers, floatingips, security-groups, security-group-rules). */
  netRecords: (kind: string) => `${P}:net:${kind}`,
  /** HASH member -> owner of a pool of allocatable values: a subnet's IPs (-> port id), a network's MACs (-> port id), the VNIs (-> network id). */
  netAllocations: (pool: string) => `${P}:net:alloc:${pool}`,
  /** HASH rule fingerprint -> security group rule id: a rule exists once per group (Neutron's SecurityGroupRuleExists). */
  netRuleFingerprints: () => `${P}:net:rule-fingerprints`,
  /** HASH resource -> limit: a project's Neutron quota limits that differ from the defaults. */
  netQuotas: (project: string) => `${P}:project:${project}:net-quotas`,
} as const;

/** Default heartbeat period and TTL of hostAlive: a host misses two beats before it is down. */
export const HOST_HEARTBEAT_INTERVAL_MS = 3000;
export const HOST_HEARTBEAT_TTL_S = 10;
