// Reports what the node sees its VMs do on their own (a guest powering off, a VM process dying)
// to the instance record in Redis, then on NATS. Changes the API asked for are committed by the
// API itself; the node only writes when the record still says the instance runs and no task is
// under way, so it never overwrites a transition in progress (Nova's power-state sync does the
// same). A write refused because a task is running, or failed because Redis is away, is tried
// again until the record moved on or the write went through.
import { NotFoundError, errorMessage, type Logger, type NatsConnection, type Redis } from '@hypernova/common';
import {
  InstanceStateConflictError,
  PowerState,
  VmState,
  getInstance,
  publishInstanceEvent,
  updateInstance,
  type InstancePatch,
} from '@hypernova/cluster-state';

export type ObservedChange =
  /** The guest powered off (or the VM process quit cleanly): SHUTOFF. */
  | { kind: 'shutoff' }
  /** The VM process died or the guest panicked: ERROR with a fault. */
  | { kind: 'crashed'; fault: string; panicked?: boolean };

const RUNNING_STATES = [VmState.ACTIVE, VmState.PAUSED];
const RETRY_MS = 1000;
const GIVE_UP_MS = 10 * 60_000;

export class StateReporter {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly nc: NatsConnection,
    private readonly host: string,
    private readonly logger: Logger,
  ) {}

  /** Records the change in the background (retrying as needed). */
  report(uuid: string, change: ObservedChange): void {
    void this.attempt(uuid, change, Date.now());
  }

  /** Writes the change now; true when done or no longer applicable, false to try again. */
  async apply(uuid: string, change: ObservedChange): Promise<boolean> {
    const rec = await getInstance(this.redis, uuid);
    if (!rec || rec.host !== this.host || !RUNNING_STATES.includes(rec.vmState as (typeof RUNNING_STATES)[number]))
      return true;
    const patch: InstancePatch =
      change.kind === 'shutoff'
        ? { vmState: VmState.STOPPED, powerState: PowerState.POWER_STATE_SHUTDOWN, taskState: null }
        : {
            vmState: VmState.ERROR,
            powerState: change.panicked ? PowerState.POWER_STATE_CRASHED : PowerState.POWER_STATE_SHUTDOWN,
            taskState: null,
            fault: {
              code: 500,
              message: change.fault,
              details: `reported by compute host ${this.host}`,
              created: new Date().toISOString(),
            },
          };
    try {
      const updated = await updateInstance(this.redis, uuid, patch, { vmState: RUNNING_STATES, taskState: [null] });
      publishInstanceEvent(this.nc, updated);
      this.logger.info(
        { instance: uuid, vmState: updated.vmState, fault: updated.fault?.message },
        'instance state reported',
      );
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return true;
      if (err instanceof InstanceStateConflictError && err.attr === 'vm_state') return true;
      return false; // a task is under way: look again once it is over
    }
  }

  private async attempt(uuid: string, change: ObservedChange, since: number): Promise<void> {
    if (this.closed) return;
    let done = false;
    try {
      done = await this.apply(uuid, change);
    } catch (err) {
      this.logger.warn({ instance: uuid, err: errorMessage(err) }, 'instance state report failed; retrying');
    }
    if (done || this.closed) return;
    if (Date.now() - since > GIVE_UP_MS) {
      this.logger.error({ instance: uuid, change }, 'instance state report abandoned');
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.attempt(uuid, change, since);
    }, RETRY_MS);
    this.timers.add(timer);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
