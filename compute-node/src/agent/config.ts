// The compute agent's settings (environment variables with documented defaults;
// `hypernova-compute --help` prints them).
import {
  bool,
  infraSettings,
  int,
  num,
  str,
  HOST_HEARTBEAT_INTERVAL_MS,
  HOST_HEARTBEAT_TTL_S,
  type ConfigOf,
} from '@hypernova/common';
import { DEFAULT_ALLOCATION_RATIOS } from '@hypernova/cluster-state';

export const agentSettings = {
  redisUrl: infraSettings.redisUrl,
  credentialsDir: infraSettings.credentialsDir,
  natsUrl: infraSettings.natsUrl,
  logLevel: infraSettings.logLevel,
  metricsPort: infraSettings.metricsPort,
  hostName: str('COMPUTE_HOST_NAME', '', "name of this compute host in the cluster (empty: the machine's hostname)"),
  grpcAddress: str(
    'COMPUTE_GRPC_ADDRESS',
    '0.0.0.0:50061',
    'host:port the Compute gRPC server binds (port 0: a free port)',
  ),
  advertiseAddress: str(
    'COMPUTE_ADVERTISE_ADDRESS',
    '',
    'host:port the scheduler and gateway reach this agent at (empty: <host name>:<bound port>)',
  ),
  stateDir: str(
    'COMPUTE_STATE_DIR',
    '/var/lib/hypernova/compute',
    'instance directories (disk, serial log, control socket) and the image cache',
  ),
  instancesDir: str(
    'COMPUTE_INSTANCES_DIR',
    '',
    'where instance disks live (Nova instances_path), e.g. an NFS mount other nodes share: live migration without block migration then keeps the disk where it is; control sockets and serial logs stay in the state dir (empty: <state dir>/instances)',
  ),
  vcpus: int('COMPUTE_VCPUS', 0, "vCPUs offered to the scheduler (0: the host's CPU count)"),
  ramMb: int('COMPUTE_RAM_MB', 0, "RAM offered in MiB (0: the host's total RAM)"),
  diskGb: int('COMPUTE_DISK_GB', 0, 'disk offered in GiB (0: the size of the file system holding the state dir)'),
  cpuAllocationRatio: num(
    'COMPUTE_CPU_ALLOCATION_RATIO',
    DEFAULT_ALLOCATION_RATIOS.cpu,
    'vCPU overcommit (Nova cpu_allocation_ratio)',
  ),
  ramAllocationRatio: num(
    'COMPUTE_RAM_ALLOCATION_RATIO',
    DEFAULT_ALLOCATION_RATIOS.ram,
    'RAM overcommit (Nova ram_allocation_ratio)',
  ),
  diskAllocationRatio: num(
    'COMPUTE_DISK_ALLOCATION_RATIO',
    DEFAULT_ALLOCATION_RATIOS.disk,
    'disk overcommit (Nova disk_allocation_ratio)',
  ),
  availabilityZone: str('COMPUTE_AVAILABILITY_ZONE', 'nova', 'availability zone of this host'),
  enabled: bool('COMPUTE_ENABLED', true, 'whether the scheduler may place new instances here'),
  heartbeatIntervalMs: int(
    'COMPUTE_HEARTBEAT_INTERVAL_MS',
    HOST_HEARTBEAT_INTERVAL_MS,
    'period of the host heartbeat in Redis',
  ),
  heartbeatTtlS: int(
    'COMPUTE_HEARTBEAT_TTL_S',
    HOST_HEARTBEAT_TTL_S,
    'the host shows as down this long after its last heartbeat',
  ),
  vmCommand: str(
    'COMPUTE_VM_COMMAND',
    '',
    'command starting a VM process, split on spaces, before its options (empty: node <cli>/bin/hypernova.js vm run)',
  ),
  supervisePollMs: int(
    'COMPUTE_SUPERVISE_POLL_MS',
    500,
    'how often VM processes are checked for life (besides their socket closing)',
  ),
  vmStartTimeoutMs: int(
    'COMPUTE_VM_START_TIMEOUT_MS',
    30_000,
    'how long a new VM process has to answer on its control socket',
  ),
  cleanShutdownTimeoutS: int(
    'COMPUTE_CLEAN_SHUTDOWN_TIMEOUT_S',
    5,
    'stop and soft reboot: how long the guest has to power off after the request before it is killed',
  ),
  orphanAction: str(
    'COMPUTE_ORPHAN_ACTION',
    'reap',
    'at start, VMs whose instance record is gone or names another host: reap (destroy) or log (Nova running_deleted_instance_action)',
  ),
  migrationDowntimeLimitMs: int(
    'COMPUTE_MIGRATION_DOWNTIME_LIMIT_MS',
    300,
    'live migration: longest pause at switch-over unless the request sets one (QEMU downtime-limit)',
  ),
  migrationMaxBandwidth: int(
    'COMPUTE_MIGRATION_MAX_BANDWIDTH',
    0,
    'live migration: bytes/s cap on the pre-copy stream (0: none)',
  ),
  migrationEncrypt: bool(
    'COMPUTE_MIGRATION_ENCRYPT',
    true,
    'live migration: encrypt what this node sends (AES-256-GCM); false: authenticate it only (HMAC-SHA256)',
  ),
  migrationVerify: bool(
    'COMPUTE_MIGRATION_VERIFY',
    false,
    'live migration: the destination checks a digest of RAM before resuming (test mode)',
  ),
  vmConfinement: str(
    'COMPUTE_VM_CONFINEMENT',
    'auto',
    'VM processes in their own uid, mount namespace, no capabilities: auto (when the agent is root), on (refuse to run VMs unconfined), off',
  ),
  vmUidRange: str('COMPUTE_VM_UID_RANGE', '200000-200999', 'uids (and gids) given to confined VM processes, one each'),
  vmOpenFiles: int('COMPUTE_VM_NOFILE', 1024, "a confined VM process's RLIMIT_NOFILE"),
  vmProcesses: int('COMPUTE_VM_NPROC', 256, "a confined VM process's RLIMIT_NPROC (its threads count)"),
  spawnDelayMs: int(
    'COMPUTE_SPAWN_DELAY_MS',
    0,
    'testing: wait this long in every spawn before the VM starts (a slow spawn)',
  ),
};

export type AgentConfig = ConfigOf<typeof agentSettings>;
