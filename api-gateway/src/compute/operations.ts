// Server actions and delete. The request claims the transition at once (a compare-and-set of
// task_state from the allowed states, else Nova's 409) and answers 202; the Compute call on the
// instance's node then runs in the background and commits the end state, or puts task_state back
// when the node refused (Nova's reverts_task_state).
import { errorMessage, suppressed, type Logger } from '@hypernova/common';
import { InstanceStateConflictError, TaskState, VmState, getHost, type InstanceRecord } from '@hypernova/cluster-state';
import type { compute } from '@hypernova/proto';
import { conflict, fromServiceError } from '../http/errors.js';
import type { ComputeClients, ComputeRpc, SchedulerRpc } from './clients.js';
import type { ActionContext, InstanceActions } from './instance-actions.js';
import type { Instances } from './instances.js';
import { TRANSITIONS, invalidStateMessage, type Transition, type TransitionName } from './state-machine.js';
import type { Tasks } from './tasks.js';

export interface OperationDeps {
  instances: Instances;
  actions: InstanceActions;
  scheduler: SchedulerRpc;
  clients: ComputeClients;
  tasks: Tasks;
  logger: Logger;
}

export type NodeCall = (rpc: ComputeRpc, uuid: string) => Promise<compute.InstanceInfo>;

export class Operations {
  constructor(private readonly d: OperationDeps) {}

  /**
   * Claims `name`'s transition (409 when the state does not allow it), records the instance
   * action, and runs `call` in the background as its compute event.
   */
  async act(rec: InstanceRecord, name: TransitionName, call: NodeCall, ctx: ActionContext): Promise<void> {
    const t: Transition = TRANSITIONS[name];
    try {
      await this.d.instances.update(rec.uuid, { taskState: t.task }, { vmState: t.from, taskState: t.fromTask });
    } catch (err) {
      if (err instanceof InstanceStateConflictError)
        throw conflict(invalidStateMessage(t.name, rec.uuid, err.attr, err.state));
      throw err;
    }
    const action = await this.d.actions.start(rec.uuid, t.name, ctx);
    this.d.tasks.run(rec.uuid, t.name, async () => {
      try {
        const info = await action.event(`compute_${t.name}_instance`, rec.host, async () =>
          call(await this.node(rec), rec.uuid),
        );
        await this.d.instances.update(
          rec.uuid,
          { vmState: t.to, taskState: null, powerState: info.powerState },
          { taskState: [t.task] },
        );
      } catch (err) {
        this.d.logger.warn(
          { instance: rec.uuid, action: t.name, err: errorMessage(err) },
          'action failed; reverting task_state',
        );
        await this.d.instances
          .update(rec.uuid, { taskState: null }, { taskState: [t.task] })
          .catch(suppressed(this.d.logger, 'operations', 'revert task state', { instance: rec.uuid, action: t.name }));
      }
    });
  }

  /** The guest's console, last `lines` lines (all when undefined), without a trailing newline. */
  async consoleOutput(rec: InstanceRecord, lines: number | undefined): Promise<string> {
    if (!rec.host || rec.vmState === VmState.BUILDING) throw conflict(`Instance ${rec.uuid} is not ready`);
    let output: string;
    try {
      output = (await (await this.node(rec)).consoleOutput(rec.uuid, lines)).output;
    } catch (err) {
      throw fromServiceError(err) ?? err;
    }
    // Control characters other than tab and newline are dropped, as Nova does.
    // eslint-disable-next-line no-control-regex
    const text = output.replace(/[\x00-\x08\x0b-\x1f]/g, '').replace(/\n$/, '');
    return lines === undefined ? text : text.split('\n').slice(-lines).join('\n');
  }

  /** Marks the instance deleting and removes it in the background: Destroy, release the claim, DELETED, gone. */
  async delete(rec: InstanceRecord, ctx: ActionContext): Promise<void> {
    await this.d.instances.update(
      rec.uuid,
      { taskState: TaskState.DELETING },
      {
        vmState: Object.values(VmState).filter((s) => s !== VmState.DELETED),
      },
    );
    const action = await this.d.actions.start(rec.uuid, 'delete', ctx);
    // A failure is recorded in the action's event and logged by the task runner.
    this.d.tasks.run(rec.uuid, 'delete', () =>
      action.event('compute_terminate_instance', rec.host, () => this.finishDelete(rec.uuid)),
    );
  }

  private async finishDelete(uuid: string): Promise<void> {
    const rec = await this.d.instances.get(uuid);
    if (!rec) return;
    const host = rec.host ? await getHost(this.d.instances.redis, rec.host) : undefined;
    if (host && !host.up) {
      // A node whose heartbeat stopped cannot run the VM any more: delete locally, as Nova does
      // when the compute service is down, without waiting on a call that cannot be answered.
      this.d.logger.warn({ instance: uuid, host: rec.host }, 'compute host down; deleting locally');
    } else if (host) {
      try {
        await this.d.clients.at(host.address).destroy(uuid);
      } catch (err) {
        // The node is up but could not destroy: like Nova, ERROR with the reason; the delete may be
        // retried (locally, once the node's heartbeat has expired).
        this.d.logger.error({ instance: uuid, host: rec.host, err: errorMessage(err) }, 'destroy failed');
        await this.d.instances.update(uuid, {
          vmState: VmState.ERROR,
          taskState: null,
          fault: { code: 500, message: errorMessage(err), details: '', created: new Date().toISOString() },
        });
        throw err;
      }
    }
    await this.d.scheduler.releaseAllocation(uuid);
    await this.d.instances.finishDelete(uuid);
    await this.d.actions.retireInstance(uuid);
  }

  private async node(rec: InstanceRecord): Promise<ComputeRpc> {
    const host = rec.host ? await getHost(this.d.instances.redis, rec.host) : undefined;
    if (!host?.address) throw conflict(`Instance ${rec.uuid} is not ready`);
    return this.d.clients.at(host.address);
  }
}
