// Background work the API answers before finishing (builds, actions, deletes: Nova's casts).
// Tracked so a gateway can wait for them on shutdown and tests can wait for quiescence, and so
// one instance's operations run one after the other.
import type { Logger } from '@hypernova/common';

export class Tasks {
  private readonly running = new Set<Promise<void>>();
  private readonly perInstance = new Map<string, Promise<void>>();

  constructor(private readonly logger: Logger) {}

  /** Runs `fn` after the instance's previous task; errors are logged, never thrown. */
  run(instanceUuid: string, what: string, fn: () => Promise<void>): void {
    const previous = this.perInstance.get(instanceUuid) ?? Promise.resolve();
    const task = previous
      .then(fn)
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
}
