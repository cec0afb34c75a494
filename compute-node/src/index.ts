// @hypernova/compute-node: the compute agent (and, beside it, the VM process).
export * from './agent/app.js';
export * from './agent/config.js';
export * from './agent/qmp-client.js';
export * from './agent/instance-dir.js';
export {
  agentUidRange,
  UidPool,
  VmJail,
  vmEnvironment,
  type JailLimits,
  type VmIdentity,
} from './agent/confinement.js';
export { defaultVmCommand, vmRunArgs, VM_PROCESS_ENV, type VmLaunch } from './agent/vm-process.js';
export { migrationCredentials, migrationPermissions } from './agent/migration-credentials.js';
export {
  MigrationDestination,
  MigrationError,
  MigrationSource,
  redisOwnership,
  type DestinationOptions,
  type DestinationResult,
  type MigrationProgress,
  type SourceOptions,
  type SourceResult,
} from './migration/index.js';
