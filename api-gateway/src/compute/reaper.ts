// Builds run inside the gateway that accepted them; if that gateway dies mid-build the instance
// would stay BUILD forever with its resources claimed. Every gateway therefore sweeps for builds
// that have not moved for longer than any live build can take and fails them (ERROR, claim
// released). This is safe against a build that is in fact still alive: its next
// compare-and-set expects vm_state building, fails, and it cleans up after itself.
import { errorMessage, type Logger } from '@hypernova/common';
import { TaskState, VmState } from '@hypernova/cluster-state';
import type { SchedulerRpc } from './clients.js';
import type { Instances } from './instances.js';

export class BuildReaper {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly d: { instances: Instances; scheduler: SchedulerRpc; logger: Logger },
    /** A build unchanged for this long is abandoned. */
    private readonly staleMs: number,
  ) {}

  start(intervalMs: number): void {
    this.timer ??= setInterval(() => {
      this.sweep().catch((err: unknown) => this.d.logger.warn({ err: errorMessage(err) }, 'build sweep failed'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Fails the abandoned builds; returns their uuids. */
  async sweep(now = Date.now()): Promise<string[]> {
    const reaped: string[] = [];
    for (const i of await this.d.instances.list()) {
      if (i.vmState !== VmState.BUILDING || now - Date.parse(i.updatedAt) < this.staleMs) continue;
      try {
        await this.d.instances.update(
          i.uuid,
          {
            vmState: VmState.ERROR,
            taskState: null,
            host: '',
            node: '',
            fault: {
              code: 500,
              message: `Build of instance ${i.uuid} was abandoned: no progress since ${i.updatedAt}.`,
              details: '',
              created: new Date(now).toISOString(),
            },
          },
          { vmState: [VmState.BUILDING], taskState: [TaskState.SCHEDULING, TaskState.SPAWNING] },
        );
      } catch {
        continue; // it moved on meanwhile (or is being deleted)
      }
      await this.d.scheduler.releaseAllocation(i.uuid);
      this.d.logger.warn({ instance: i.uuid, since: i.updatedAt }, 'abandoned build failed');
      reaped.push(i.uuid);
    }
    return reaped;
  }
}
