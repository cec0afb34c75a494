// Live migration (pre-copy over core NATS), as a library the VM process calls: a
// MigrationSource around the running Machine on one node, a MigrationDestination around a
// paused Machine of the same configuration on the other, both with a NATS connection and the
// migration's id. See DESIGN.md, "Life of a live migration".
//
//   destination node:  const dst = new MigrationDestination(machine, nc, { id, key, commit });
//                      await dst.listen();             // then tell the source to go
//                      await dst.finished;             // resolves: the guest runs here; rejects: discard the machine
//   source node:       const src = new MigrationSource(machine, nc, { id, key, resolveOutcome, onProgress });
//                      await src.run();                // resolves: free the (paused) machine; rejects: the guest ran on here
//                      src.forceComplete() / src.abort() / src.setDowntimeLimit(ms) / src.setMaxBandwidth(bps)
//
// key: the migration's secret (wire.KEY_SIZE random bytes, the same on both sides): every frame is
// authenticated with it and, unless `encrypt: false`, encrypted (wire.ts).
// commit/resolveOutcome settle who owns the guest (redisOwnership() does it with one Redis key; the
// compute agent runs it for its VM processes, which hold no Redis connection).
//
// Block migration (Nova's block_migration): give both sides the VM's disks, in virtio slot order,
//   source:       new MigrationSource(machine, nc, { id, key, disks: [disk0, ...] })    // the backends its virtio-blk devices use
//   destination:  new MigrationDestination(machine, nc, { id, key, disks: [overlay0, ...] })
// each destination disk writable and of the same virtual size (typically a fresh qcow2 overlay
// over the same base image); a different count or size is refused in the handshake. Round 1
// copies what each source disk itself holds (a qcow2 overlay's own clusters, not its base; a raw
// disk whole), later rounds and the pause the 64 KiB blocks the guest wrote meanwhile (the
// backends' dirty logs see writes, write-zeroes and discards); the destination flushes its disks
// before the commit. Progress then has diskTotalBytes / diskProcessedBytes / diskRemainingBytes
// (0 without disks), and the switch-over estimate counts the disk blocks still to send.
//
// Shared storage (Nova's live migration without block_migration): the disks stay where they are,
// on storage both nodes open,
//   source:       new MigrationSource(machine, nc, { id, key, sharedDisks: [disk0, ...] })    // flushed in the pause, before End
//   destination:  new MigrationDestination(machine, nc, { id, key, sharedDisks: { sizes, attach } })
// the destination's virtio-blk devices declare the sizes but open nothing until attach(), which
// runs after End, before the device state is restored; after a completed migration the source
// closes its disks without writing them again, after a failed one it carries on with them.
//
// Files: wire.ts (frames), pages.ts (page records, deltas), disks.ts (disk block records),
// flow.ts (credits, resends, rate), convergence.ts (when to switch over, auto-converge),
// transport.ts (NATS), sender.ts, receiver.ts.
export { MigrationSource, type SourceOptions, type SourceResult } from './sender.js';
export { MigrationDestination, type DestinationOptions, type DestinationResult, type SharedDisks } from './receiver.js';
export { redisOwnership, type Ownership, type RedisOwnershipOptions } from './ownership.js';
export {
  MigrationError,
  type MigrationErrorCode,
  type MigrationProgress,
  type MigrationStatus,
  type RejectCounters,
} from './types.js';
export type { Tap } from './transport.js';
export { Endpoint } from './transport.js';
export * as wire from './wire.js';
