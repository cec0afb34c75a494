// Live migration (pre-copy over core NATS), as a library the VM process calls: a
// MigrationSource around the running Machine on one node, a MigrationDestination around a
// paused Machine of the same configuration on the other, both with a NATS connection and the
// migration's id. See DESIGN.md, "Life of a live migration".
//
//   destination node:  const dst = new MigrationDestination(machine, nc, { id, commit });
//                      await dst.listen();             // then tell the source to go
//                      await dst.finished;             // resolves: the guest runs here; rejects: discard the machine
//   source node:       const src = new MigrationSource(machine, nc, { id, resolveOutcome, onProgress });
//                      await src.run();                // resolves: free the (paused) machine; rejects: the guest ran on here
//                      src.forceComplete() / src.abort() / src.setDowntimeLimit(ms) / src.setMaxBandwidth(bps)
//
// commit/resolveOutcome settle who owns the guest (redisOwnership() does it with one Redis key).
// Files: wire.ts (frames), pages.ts (page records, deltas), flow.ts (credits, resends, rate),
// convergence.ts (when to switch over, auto-converge), transport.ts (NATS), sender.ts, receiver.ts.
export { MigrationSource, type SourceOptions, type SourceResult } from './sender.js';
export { MigrationDestination, type DestinationOptions, type DestinationResult } from './receiver.js';
export { redisOwnership, type RedisOwnershipOptions } from './ownership.js';
export { MigrationError, type MigrationErrorCode, type MigrationProgress, type MigrationStatus, type RejectCounters } from './types.js';
export type { Tap } from './transport.js';
export { Endpoint } from './transport.js';
export * as wire from './wire.js';
