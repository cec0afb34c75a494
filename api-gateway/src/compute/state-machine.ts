// Nova's instance state rules: the API status shown for a vm_state/task_state pair
// (nova/api/openstack/common.py _STATE_MAP), and for each action which states it may start from,
// the task_state it runs under and the vm_state it ends in (nova/compute/api.py
// check_instance_state). The Nova method name is what its 409 message quotes.
import { TaskState, VmState, type InstanceRecord } from '@hypernova/cluster-state';

type Status = string;

const STATUS: Record<VmState, { default: Status } & Partial<Record<TaskState, Status>>> = {
  [VmState.ACTIVE]: {
    default: 'ACTIVE',
    [TaskState.REBOOTING]: 'REBOOT',
    [TaskState.REBOOTING_HARD]: 'HARD_REBOOT',
    [TaskState.MIGRATING]: 'MIGRATING',
  },
  [VmState.BUILDING]: { default: 'BUILD' },
  [VmState.STOPPED]: { default: 'SHUTOFF' },
  [VmState.PAUSED]: { default: 'PAUSED', [TaskState.MIGRATING]: 'MIGRATING' },
  [VmState.SUSPENDED]: { default: 'SUSPENDED' },
  [VmState.ERROR]: { default: 'ERROR' },
  [VmState.DELETED]: { default: 'DELETED' },
};

/** The API status of an instance (BUILD, ACTIVE, SHUTOFF, PAUSED, SUSPENDED, ERROR, DELETED, REBOOT, ...). */
export function statusOf(i: Pick<InstanceRecord, 'vmState' | 'taskState'>): Status {
  const m = STATUS[i.vmState];
  if (!m) return 'UNKNOWN';
  return (i.taskState ? m[i.taskState] : undefined) ?? m.default;
}

/** vm_states whose status Nova maps back to a filter value, for ?status= (lower-cased API status -> vm_states). */
export function vmStatesForStatus(status: string): VmState[] | undefined {
  const s = status.toUpperCase();
  const out = (Object.keys(STATUS) as VmState[]).filter((v) => STATUS[v].default === s);
  if (s === 'REBOOT' || s === 'HARD_REBOOT') out.push(VmState.ACTIVE);
  return out.length > 0 ? out : undefined;
}

/** Statuses whose responses include `progress` (Nova's _progress_statuses). */
export const PROGRESS_STATUSES: ReadonlySet<Status> = new Set([
  'ACTIVE',
  'BUILD',
  'REBUILD',
  'RESIZE',
  'VERIFY_RESIZE',
  'MIGRATING',
]);

export interface Transition {
  /** Nova's name for the operation, as its messages quote it. */
  name: string;
  from: readonly VmState[];
  fromTask: readonly (TaskState | null)[];
  task: TaskState;
  to: VmState;
}

const idle = [null] as const;

export const TRANSITIONS = {
  start: { name: 'start', from: [VmState.STOPPED], fromTask: idle, task: TaskState.POWERING_ON, to: VmState.ACTIVE },
  stop: {
    name: 'stop',
    from: [VmState.ACTIVE, VmState.ERROR],
    fromTask: idle,
    task: TaskState.POWERING_OFF,
    to: VmState.STOPPED,
  },
  rebootSoft: {
    name: 'reboot',
    from: [VmState.ACTIVE],
    fromTask: [null, TaskState.REBOOTING],
    task: TaskState.REBOOTING,
    to: VmState.ACTIVE,
  },
  rebootHard: {
    name: 'reboot',
    from: [VmState.ACTIVE, VmState.STOPPED, VmState.PAUSED, VmState.SUSPENDED, VmState.ERROR],
    fromTask: [null, TaskState.REBOOTING, TaskState.REBOOTING_HARD],
    task: TaskState.REBOOTING_HARD,
    to: VmState.ACTIVE,
  },
  pause: { name: 'pause', from: [VmState.ACTIVE], fromTask: idle, task: TaskState.PAUSING, to: VmState.PAUSED },
  unpause: { name: 'unpause', from: [VmState.PAUSED], fromTask: idle, task: TaskState.UNPAUSING, to: VmState.ACTIVE },
  suspend: {
    name: 'suspend',
    from: [VmState.ACTIVE],
    fromTask: idle,
    task: TaskState.SUSPENDING,
    to: VmState.SUSPENDED,
  },
  resume: { name: 'resume', from: [VmState.SUSPENDED], fromTask: idle, task: TaskState.RESUMING, to: VmState.ACTIVE },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof TRANSITIONS;

/** Nova's InstanceInvalidState message for the 409. */
export function invalidStateMessage(
  action: string,
  uuid: string,
  attr: 'vm_state' | 'task_state',
  state: string,
): string {
  return `Cannot '${action}' instance ${uuid} while it is in ${attr} ${state || 'None'}`;
}
