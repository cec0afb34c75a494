// Nova's instance actions (os-instance-actions): every user action on a server (create, delete,
// start, stop, reboot, pause, ...) is recorded under the request id the API answered with, and
// the work it causes is recorded as events (compute_stop_instance, ...) with their start, finish
// and result. One Redis hash per instance; an action is written by the request that made it and
// then only by that request's background task, so its read-modify-writes never race.
import { errorMessage, redisKeys, type Redis } from '@hypernova/common';

export interface ActionEvent {
  event: string;
  startTime: string;
  finishTime: string | null;
  result: 'Success' | 'Error' | null;
  traceback: string | null;
  host: string;
}

export interface InstanceAction {
  action: string;
  instanceUuid: string;
  requestId: string;
  userId: string;
  projectId: string;
  startTime: string;
  updatedAt: string;
  /** Nova's 'Error' once an event failed, else null. */
  message: string | null;
  events: ActionEvent[];
}

/** Who asked: the request id the API answered with, and the caller. */
export interface ActionContext {
  requestId: string;
  userId: string;
  projectId: string;
}

/** How long the actions of a deleted server stay readable (Nova keeps them until its rows are archived). */
const DELETED_RETENTION_S = 7 * 24 * 3600;

/** Records the events of one action. */
export class ActionRecorder {
  constructor(
    private readonly store: InstanceActions,
    readonly uuid: string,
    readonly requestId: string,
  ) {}

  /** Runs `fn` as the event `name` on `host`, recording its start, finish and result; rethrows its error. */
  async event<T>(name: string, host: string, fn: () => Promise<T>): Promise<T> {
    const index = await this.store.addEvent(this.uuid, this.requestId, {
      event: name,
      startTime: new Date().toISOString(),
      finishTime: null,
      result: null,
      traceback: null,
      host,
    });
    try {
      const out = await fn();
      await this.store.finishEvent(this.uuid, this.requestId, index, 'Success', null);
      return out;
    } catch (err) {
      await this.store.finishEvent(this.uuid, this.requestId, index, 'Error', errorMessage(err));
      throw err;
    }
  }
}

export class InstanceActions {
  constructor(private readonly redis: Redis) {}

  /** Records that `action` started on the instance and returns the recorder of its events. */
  async start(uuid: string, action: string, ctx: ActionContext): Promise<ActionRecorder> {
    const now = new Date().toISOString();
    const rec: InstanceAction = {
      action,
      instanceUuid: uuid,
      requestId: ctx.requestId,
      userId: ctx.userId,
      projectId: ctx.projectId,
      startTime: now,
      updatedAt: now,
      message: null,
      events: [],
    };
    await this.redis.hset(redisKeys.instanceActions(uuid), ctx.requestId, JSON.stringify(rec));
    return new ActionRecorder(this, uuid, ctx.requestId);
  }

  /** The instance's actions, newest first (Nova's order). */
  async list(uuid: string): Promise<InstanceAction[]> {
    const all = Object.values(await this.redis.hgetall(redisKeys.instanceActions(uuid))).map(
      (raw) => JSON.parse(raw) as InstanceAction,
    );
    return all.sort((a, b) => b.startTime.localeCompare(a.startTime) || b.requestId.localeCompare(a.requestId));
  }

  async get(uuid: string, requestId: string): Promise<InstanceAction | undefined> {
    const raw = await this.redis.hget(redisKeys.instanceActions(uuid), requestId);
    return raw ? (JSON.parse(raw) as InstanceAction) : undefined;
  }

  /** Lets the actions of a deleted instance expire. */
  async retireInstance(uuid: string): Promise<void> {
    await this.redis.expire(redisKeys.instanceActions(uuid), DELETED_RETENTION_S);
  }

  async addEvent(uuid: string, requestId: string, event: ActionEvent): Promise<number> {
    let index = -1;
    await this.change(uuid, requestId, (a) => {
      index = a.events.push(event) - 1;
    });
    return index;
  }

  async finishEvent(
    uuid: string,
    requestId: string,
    index: number,
    result: 'Success' | 'Error',
    traceback: string | null,
  ): Promise<void> {
    await this.change(uuid, requestId, (a) => {
      const e = a.events[index];
      if (!e) return;
      e.finishTime = new Date().toISOString();
      e.result = result;
      e.traceback = traceback;
      if (result === 'Error') a.message = 'Error';
    });
  }

  /**
   * Ends the events still open in the newest `action` of the instance: for an action whose
   * request's task died with its gateway, by whoever took the work over (the only writer left).
   */
  async finishOpenEvents(
    uuid: string,
    action: string,
    result: 'Success' | 'Error',
    traceback: string | null,
  ): Promise<void> {
    const open = (await this.list(uuid)).find((a) => a.action === action);
    if (!open) return;
    for (const [index, e] of open.events.entries())
      if (e.finishTime === null) await this.finishEvent(uuid, open.requestId, index, result, traceback);
  }

  private async change(uuid: string, requestId: string, fn: (a: InstanceAction) => void): Promise<void> {
    const a = await this.get(uuid, requestId);
    if (!a) return; // the instance's actions expired meanwhile
    fn(a);
    a.updatedAt = new Date().toISOString();
    await this.redis.hset(redisKeys.instanceActions(uuid), requestId, JSON.stringify(a));
  }
}
