// The trigger_crash_dump server action (2.17): {"trigger_crash_dump": null}. Nova injects an NMI
// through the virt driver; Hypernova's compute nodes have no such call, so after the checks Nova
// makes first (policy, the server, its state) the answer is Nova's 400 for a driver that cannot
// (TriggerCrashDumpNotSupported). Below 2.17 the action does not exist (the caller's 400).
import { VmState } from '@hypernova/cluster-state';
import type { FastifyRequest } from 'fastify';
import type { Gateway } from '../../context.js';
import { badRequest, conflict } from '../../http/errors.js';
import { caller } from '../../identity/auth.js';
import { enforce } from '../../policy.js';
import { invalidStateMessage } from '../state-machine.js';
import { loadServer } from '../api.js';

export const CRASH_DUMP_ACTION = 'trigger_crash_dump';

/** The vm_states Nova's trigger_crash_dump accepts (check_instance_state); no task may be running. */
const FROM: readonly string[] = [VmState.ACTIVE, VmState.PAUSED, 'rescued', 'resized', VmState.ERROR];

/** Whether this request is the 2.17 action; it then only ever throws (400, 403, 404 or 409). */
export const isCrashDump = (request: FastifyRequest, action: string) =>
  action === CRASH_DUMP_ACTION && request.microversion.atLeast(17);

export async function triggerCrashDump(
  gw: Gateway,
  request: FastifyRequest<{ Params: { id: string } }>,
  arg: unknown,
): Promise<never> {
  const c = caller(request);
  enforce(c, 'os_compute_api:servers:trigger_crash_dump');
  // Nova's schema: the argument must be null.
  if (arg !== null)
    throw badRequest(
      `Invalid input for field/attribute ${CRASH_DUMP_ACTION}. Value: ${JSON.stringify(arg)}. ${JSON.stringify(arg)} is not of type 'null'`,
    );
  const rec = await loadServer(gw, c, request.params.id);
  if (!FROM.includes(rec.vmState))
    throw conflict(invalidStateMessage(CRASH_DUMP_ACTION, rec.uuid, 'vm_state', rec.vmState));
  if (rec.taskState !== null)
    throw conflict(invalidStateMessage(CRASH_DUMP_ACTION, rec.uuid, 'task_state', rec.taskState));
  throw badRequest('Triggering crash dump is not supported');
}
