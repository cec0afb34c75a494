// The gateway's access to instance records: the shared Redis record (cluster-state/src/instances.ts) plus a
// NATS event after every write, so the dashboard and other watchers see each change at once.
import { type Logger, type NatsConnection, type Redis } from '@hypernova/common';
import {
  PowerState,
  VmState,
  createInstance,
  getInstance,
  listInstances,
  publishInstanceEvent,
  removeInstance,
  updateInstance,
  type InstanceExpectation,
  type InstancePatch,
  type InstanceRecord,
} from '@hypernova/cluster-state';

export class Instances {
  constructor(
    readonly redis: Redis,
    private readonly nats: NatsConnection | undefined,
    private readonly logger: Logger,
  ) {}

  get(uuid: string): Promise<InstanceRecord | undefined> {
    return getInstance(this.redis, uuid);
  }

  list(opts: { projectId?: string; host?: string } = {}): Promise<InstanceRecord[]> {
    return listInstances(this.redis, opts);
  }

  async create(rec: InstanceRecord): Promise<void> {
    await createInstance(this.redis, rec);
    this.announce(rec);
  }

  async update(uuid: string, patch: InstancePatch, expect?: InstanceExpectation): Promise<InstanceRecord> {
    const rec = await updateInstance(this.redis, uuid, patch, expect);
    this.announce(rec);
    return rec;
  }

  /** Records the deletion (vm_state deleted, published) and then removes the record. */
  async finishDelete(uuid: string): Promise<void> {
    const now = new Date().toISOString();
    let rec: InstanceRecord;
    try {
      rec = await updateInstance(this.redis, uuid, {
        vmState: VmState.DELETED,
        taskState: null,
        powerState: PowerState.POWER_STATE_NOSTATE,
        terminatedAt: now,
      });
    } catch {
      return; // already gone
    }
    this.announce(rec);
    await removeInstance(this.redis, rec);
  }

  /** Publishes the record's state on NATS (after a write made elsewhere, such as the quota-checked create). */
  announce(rec: InstanceRecord): void {
    if (!this.nats || this.nats.isClosed()) return;
    try {
      publishInstanceEvent(this.nats, rec);
    } catch (err) {
      // Redis holds the truth; a lost event only delays a watcher until its next read.
      this.logger.warn({ err, instance: rec.uuid }, 'instance event not published');
    }
  }
}
