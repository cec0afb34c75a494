// The gateway's settings (environment variables with documented defaults; `hypernova-api --help`
// prints them).
import { infraSettings, int, str, type ConfigOf } from '@hypernova/common';

export const gatewaySettings = {
  redisUrl: infraSettings.redisUrl,
  credentialsDir: infraSettings.credentialsDir,
  natsUrl: infraSettings.natsUrl,
  logLevel: infraSettings.logLevel,
  host: str('API_HOST', '127.0.0.1', 'address the HTTP API listens on (0.0.0.0 to serve other machines)'),
  port: int('API_PORT', 8080, 'HTTP port of the API (0: a free port)'),
  publicUrl: str(
    'API_PUBLIC_URL',
    '',
    "base URL clients reach the API at, used in the catalog and links; empty: from each request's Host header",
  ),
  bodyLimit: int('API_BODY_LIMIT_BYTES', 114_688, "largest request body accepted (Nova's max_request_body_size)"),
  schedulerAddress: str(
    'SCHEDULER_ADDRESS',
    '127.0.0.1:50051',
    'gRPC target of the scheduler; several replicas as ipv4:host1:port1,host2:port2 (round robin)',
  ),
  region: str('HYPERNOVA_REGION', 'RegionOne', 'region name of every catalog endpoint'),
  adminUser: str('HYPERNOVA_ADMIN_USER', 'admin', 'bootstrap admin user (created or updated at start)'),
  adminPassword: str('HYPERNOVA_ADMIN_PASSWORD', 'secret', 'bootstrap admin password (change it off loopback)'),
  adminProject: str('HYPERNOVA_ADMIN_PROJECT', 'admin', 'bootstrap admin project'),
  tokenTtlS: int('HYPERNOVA_TOKEN_TTL_S', 3600, "lifetime of issued tokens (Keystone's default: one hour)"),
  lockoutFailureAttempts: int(
    'HYPERNOVA_LOCKOUT_FAILURE_ATTEMPTS',
    6,
    "failed password logins in a row that lock a user out (Keystone's lockout_failure_attempts; 0: never)",
  ),
  lockoutAddressAttempts: int(
    'HYPERNOVA_LOCKOUT_ADDRESS_ATTEMPTS',
    30,
    'failed password logins from one source address that lock that address out (0: never)',
  ),
  lockoutDurationS: int(
    'HYPERNOVA_LOCKOUT_DURATION_S',
    1800,
    "how long a lockout lasts after the last counted failure (Keystone's lockout_duration)",
  ),
  spawnAttempts: int('HYPERNOVA_SPAWN_ATTEMPTS', 3, "hosts tried per server build (Nova's scheduler max_attempts)"),
  spawnTimeoutMs: int('HYPERNOVA_SPAWN_TIMEOUT_MS', 300_000, 'deadline of a Spawn call (image download + boot)'),
  computeTimeoutMs: int(
    'HYPERNOVA_COMPUTE_TIMEOUT_MS',
    120_000,
    'deadline of other Compute calls (stop waits for the guest)',
  ),
  migrationLeaseMs: int(
    'HYPERNOVA_MIGRATION_LEASE_MS',
    15_000,
    "lease of the gateway driving a live migration or running one of an instance's tasks (renewed every third of it); once it lapses, as when that gateway died, another gateway takes the migration over or runs its own task on the instance",
  ),
  quotaInstances: int('HYPERNOVA_QUOTA_INSTANCES', 10, 'default per-project quota: servers'),
  quotaCores: int('HYPERNOVA_QUOTA_CORES', 20, 'default per-project quota: vCPUs'),
  quotaRamMb: int('HYPERNOVA_QUOTA_RAM_MB', 51_200, 'default per-project quota: RAM in MiB'),
  quotaMetadataItems: int(
    'HYPERNOVA_QUOTA_METADATA_ITEMS',
    128,
    'default per-project quota: metadata items per server',
  ),
  quotaKeyPairs: int('HYPERNOVA_QUOTA_KEY_PAIRS', 100, 'default quota: keypairs per user'),
  quotaServerGroups: int('HYPERNOVA_QUOTA_SERVER_GROUPS', 10, 'default per-project quota: server groups'),
  quotaServerGroupMembers: int(
    'HYPERNOVA_QUOTA_SERVER_GROUP_MEMBERS',
    10,
    'default per-project quota: servers per server group',
  ),
  imageSizeCap: int(
    'HYPERNOVA_IMAGE_SIZE_CAP_BYTES',
    1_099_511_627_776,
    "largest image upload (Glance's image_size_cap, 1 TiB)",
  ),
  maxListLimit: int('HYPERNOVA_MAX_LIST_LIMIT', 1000, "largest page a list returns (Nova's max_limit)"),
  devstackNetworks: str(
    'HYPERNOVA_DEVSTACK_NETWORKS',
    '',
    "projects (comma-separated names) that get devstack's private network and router1 to the external public 172.24.4.0/24, made at start; empty: no networks are made",
  ),
};

export type GatewayConfig = ConfigOf<typeof gatewaySettings>;
