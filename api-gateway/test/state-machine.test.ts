// Nova's status map and action rules.
import assert from 'node:assert/strict';
import { TaskState, VmState } from '@hypernova/cluster-state';
import { TRANSITIONS, invalidStateMessage, statusOf, vmStatesForStatus } from '../src/compute/state-machine.js';

describe('instance state machine', () => {
  it("maps vm_state/task_state to Nova's statuses", () => {
    assert.equal(statusOf({ vmState: VmState.BUILDING, taskState: TaskState.SCHEDULING }), 'BUILD');
    assert.equal(statusOf({ vmState: VmState.ACTIVE, taskState: null }), 'ACTIVE');
    assert.equal(statusOf({ vmState: VmState.ACTIVE, taskState: TaskState.POWERING_OFF }), 'ACTIVE');
    assert.equal(statusOf({ vmState: VmState.ACTIVE, taskState: TaskState.REBOOTING }), 'REBOOT');
    assert.equal(statusOf({ vmState: VmState.ACTIVE, taskState: TaskState.REBOOTING_HARD }), 'HARD_REBOOT');
    assert.equal(statusOf({ vmState: VmState.STOPPED, taskState: null }), 'SHUTOFF');
    assert.equal(statusOf({ vmState: VmState.PAUSED, taskState: null }), 'PAUSED');
    assert.equal(statusOf({ vmState: VmState.SUSPENDED, taskState: null }), 'SUSPENDED');
    assert.equal(statusOf({ vmState: VmState.ERROR, taskState: null }), 'ERROR');
    assert.equal(statusOf({ vmState: VmState.DELETED, taskState: null }), 'DELETED');
  });

  it('maps a status filter back to vm_states', () => {
    assert.deepEqual(vmStatesForStatus('shutoff'), [VmState.STOPPED]);
    assert.deepEqual(vmStatesForStatus('ACTIVE'), [VmState.ACTIVE]);
    assert.equal(vmStatesForStatus('FLYING'), undefined);
  });

  it("allows each action only from Nova's states", () => {
    assert.deepEqual(TRANSITIONS.start.from, [VmState.STOPPED]);
    assert.deepEqual(TRANSITIONS.stop.from, [VmState.ACTIVE, VmState.ERROR]);
    assert.deepEqual(TRANSITIONS.rebootSoft.from, [VmState.ACTIVE]);
    assert.ok(TRANSITIONS.rebootHard.from.includes(VmState.STOPPED));
    assert.deepEqual(TRANSITIONS.resume.from, [VmState.SUSPENDED]);
  });

  it('words conflicts as Nova does', () => {
    assert.equal(
      invalidStateMessage('start', 'u', 'vm_state', 'active'),
      "Cannot 'start' instance u while it is in vm_state active",
    );
    assert.equal(
      invalidStateMessage('stop', 'u', 'task_state', ''),
      "Cannot 'stop' instance u while it is in task_state None",
    );
  });
});
