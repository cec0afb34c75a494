// Live migration (pre-copy over core NATS), as a library the VM process calls: a
// MigrationSource around the running Machine on one node, a MigrationDestination around a
// paused Machine of the same configuration on the other, both with a NATS connection and the
// migration's id. See DESIGN.md, "Life of a live migration".
export { MigrationSource, type SourceOptions, type SourceResult } from './sender.js';
export { MigrationDestination, type DestinationOptions, type DestinationResult } from './receiver.js';
export { redisOwnership, type RedisOwnershipOptions } from './ownership.js';
export { MigrationError, type MigrationErrorCode, type MigrationProgress, type MigrationStatus, type RejectCounters } from './types.js';
export type { Tap } from './transport.js';
export { Endpoint } from './transport.js';
export * as wire from './wire.js';
