// Background work the API answers before finishing (builds, actions, deletes: Nova's casts).
// Tracked so a gateway can wait for them on shutdown and tests can wait for quiescence, and so
// one instance's operations run one after the other: in this gateway by a queue per instance,
// across gateways by a lease per instance in Redis, held while a task runs (a gateway that
// died holding one holds it no longer than the lease's lifetime).
import { errorMessage, holdLease, keepLease, redisKeys, type Lease, type Logger, type Redis } from '@hypernova/common';

/** How often a task waiting for another gateway's task on the same instance asks again. */
const LEASE_POLL_MS = 100;

export class Tasks {
  private readonly running = new Set<Promise<void>>();
  private readonly perInstance = new Map<string, Promise<void>>();

  constructor(
    private readonly logger: Logger,
    /** Where the per-instance leases live, and this gateway's; without, tasks are serialized in this gateway only. */
    private readonly leases?: { redis: Redis; lease: Lease },
  ) {}

  /** Runs `fn` after the instance's previous task; errors are logged, never thrown. */
  run(instanceUuid: string, what: string, fn: () => Promise<void>): void {
    const previous = this.perInstance.get(instanceUuid) ?? Promise.resolve();
    const task = previous
      .then(() => this.exclusive(instanceUuid, what, fn))
      .catch((err: unknown) => this.logger.error({ err, instance: instanceUuid, task: what }, 'background task failed'))
      .finally(() => {
        this.running.delete(task);
        if (this.perInstance.get(instanceUuid) === task) this.perInstance.delete(instanceUuid);
      });
    this.running.add(task);
    this.perInstance.set(instanceUuid, task);
  }

  /** Resolves once every task started so far (and those they queue) has ended. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Runs `fn` holding the instance's lease: after any other gateway's task on it has ended. */
  private async exclusive(instanceUuid: string, what: string, fn: () => Promise<void>): Promise<void> {
    if (!this.leases) return fn();
    const { redis, lease } = this.leases;
    const key = redisKeys.instanceTaskLease(instanceUuid);
    const log = this.logger.child({ instance: instanceUuid, task: what });
    // This gateway's own lease counts as free: its queue already put this task after the last.
    for (let told = false; ;) {
      try {
        if (await holdLease(redis, key, lease, 'renew')) break;
      } catch (err) {
        if (!told) log.warn({ err: errorMessage(err) }, 'cannot take the instance task lease; trying again');
        told = true;
      }
      await new Promise((r) => setTimeout(r, LEASE_POLL_MS));
    }
    const kept = keepLease(redis, key, lease, {
      lost: () => log.warn('another gateway took the instance task lease of a task still running'),
      failed: (err, op) => log.warn({ err: errorMessage(err) }, `cannot ${op} the instance task lease`),
    });
    try {
      await fn();
    } finally {
      await kept.end();
    }
  }
}
