// POST /servers/{id}/action: {"<action>": <argument>}. Argument-less actions accept null (the
// CLI) and {} (Tempest). State changes answer 202 and run on the node in the background; console
// output answers 200 with the text.
import { compute } from '@hypernova/proto';
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { badRequest } from '../../http/errors.js';
import { caller } from '../../identity/auth.js';
import { enforce } from '../../policy.js';
import type { LiveMigrationRequest } from '../live-migration.js';
import type { Microversion } from '../microversion.js';
import type { NodeCall } from '../operations.js';
import type { TransitionName } from '../state-machine.js';
import { isCrashDump, triggerCrashDump } from './crash-dump.js';
import { loadServer } from '../api.js';
import { actionContext } from './servers.js';

type Arg = unknown;

/** A state-changing action: its policy, the transition it claims and the node call to make. */
interface StateAction {
  policy: string;
  transition: (arg: Arg) => TransitionName;
  call: (arg: Arg) => NodeCall;
}

function noArgument(action: string, arg: Arg): void {
  const ok =
    arg === null || (typeof arg === 'object' && !Array.isArray(arg) && Object.keys(arg as object).length === 0);
  if (!ok)
    throw badRequest(`Invalid input for field/attribute ${action}. Value: ${JSON.stringify(arg)}. Expected null or {}`);
}

function rebootType(arg: Arg): 'SOFT' | 'HARD' {
  const type = arg !== null && typeof arg === 'object' ? (arg as Record<string, unknown>).type : undefined;
  const extra = arg !== null && typeof arg === 'object' ? Object.keys(arg as object).filter((k) => k !== 'type') : [];
  if (typeof type !== 'string' || !/^(soft|hard)$/i.test(type) || extra.length > 0) {
    throw badRequest(
      `Invalid input for field/attribute type. Value: ${JSON.stringify(type ?? null)}. It must be SOFT or HARD`,
    );
  }
  return type.toUpperCase() as 'SOFT' | 'HARD';
}

const simple = (policy: string, transition: TransitionName, call: NodeCall, action: string): StateAction => ({
  policy,
  transition: (arg) => (noArgument(action, arg), transition),
  call: () => call,
});

const STATE_ACTIONS: Record<string, StateAction> = {
  'os-start': simple('os_compute_api:servers:start', 'start', (n, u) => n.start(u), 'os-start'),
  'os-stop': simple('os_compute_api:servers:stop', 'stop', (n, u) => n.stop(u), 'os-stop'),
  pause: simple('os_compute_api:os-pause-server:pause', 'pause', (n, u) => n.pause(u), 'pause'),
  unpause: simple('os_compute_api:os-pause-server:unpause', 'unpause', (n, u) => n.unpause(u), 'unpause'),
  suspend: simple('os_compute_api:os-suspend-server:suspend', 'suspend', (n, u) => n.suspend(u), 'suspend'),
  resume: simple('os_compute_api:os-suspend-server:resume', 'resume', (n, u) => n.resume(u), 'resume'),
  reboot: {
    policy: 'os_compute_api:servers:reboot',
    transition: (arg) => (rebootType(arg) === 'HARD' ? 'rebootHard' : 'rebootSoft'),
    call: (arg) => {
      const type =
        rebootType(arg) === 'HARD' ? compute.RebootType.REBOOT_TYPE_HARD : compute.RebootType.REBOOT_TYPE_SOFT;
      return (n, u) => n.reboot(u, type);
    },
  },
};

/** Nova's parameter_types.boolean: a JSON boolean or one of its string spellings. */
const isBoolean = (v: unknown) =>
  typeof v === 'boolean' || (typeof v === 'string' && /^(true|false|t|f|yes|no|y|n|on|off|1|0)$/i.test(v));

const asBoolean = (v: unknown): boolean => v === true || (typeof v === 'string' && /^(true|t|yes|y|on|1)$/i.test(v));

/**
 * os-migrateLive's body: host (or null) and block_migration, plus disk_over_commit from 2.1 to
 * 2.24; from 2.25 block_migration may be "auto" and disk_over_commit is gone.
 */
function liveMigrationRequest(arg: Arg, mv: Microversion): LiveMigrationRequest {
  const o =
    arg !== null && typeof arg === 'object' && !Array.isArray(arg) ? (arg as Record<string, unknown>) : undefined;
  const bad = (detail: string) =>
    badRequest(`Invalid input for field/attribute os-migrateLive. Value: ${JSON.stringify(arg)}. ${detail}`);
  if (!o) throw bad(`${JSON.stringify(arg)} is not of type 'object'`);
  const keys = mv.atLeast(25) ? ['host', 'block_migration'] : ['host', 'block_migration', 'disk_over_commit'];
  for (const key of keys) if (!(key in o)) throw bad(`'${key}' is a required property`);
  const extra = Object.keys(o).find((k) => !keys.includes(k));
  if (extra) throw bad(`Additional properties are not allowed ('${extra}' was unexpected)`);
  if (o.host !== null && (typeof o.host !== 'string' || o.host.length === 0 || o.host.length > 255))
    throw bad('host must be a host name or null');
  const auto = mv.atLeast(25) && o.block_migration === 'auto';
  if (!auto && !isBoolean(o.block_migration))
    throw bad(`block_migration must be a boolean${mv.atLeast(25) ? " or 'auto'" : ''}`);
  if (!mv.atLeast(25) && !isBoolean(o.disk_over_commit)) throw bad('disk_over_commit must be a boolean');
  return { host: o.host as string | null, blockMigration: auto ? 'auto' : asBoolean(o.block_migration) };
}

/** os-getConsoleOutput's length: absent, null or -1 mean everything; else a non-negative integer (or its string). */
function consoleLength(arg: Arg): number | undefined {
  if (arg === null) return undefined;
  if (typeof arg !== 'object' || Array.isArray(arg) || Object.keys(arg as object).some((k) => k !== 'length')) {
    throw badRequest(`Invalid input for field/attribute os-getConsoleOutput. Value: ${JSON.stringify(arg)}.`);
  }
  const raw = (arg as { length?: unknown }).length;
  if (raw === undefined || raw === null) return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < -1) {
    throw badRequest(
      `Invalid input for field/attribute length. Value: ${JSON.stringify(raw)}. It must be an integer >= -1`,
    );
  }
  return n === -1 ? undefined : n;
}

export function registerServerActionRoutes(app: FastifyInstance, gw: Gateway): void {
  app.post<{ Params: { id: string }; Body: Record<string, Arg> }>(
    '/servers/:id/action',
    { schema: { body: { type: 'object', minProperties: 1, maxProperties: 1 } } },
    async (request, reply) => {
      const c = caller(request);
      const [action, arg] = Object.entries(request.body)[0];
      if (isCrashDump(request, action)) return triggerCrashDump(gw, request, arg);
      const stateAction = STATE_ACTIONS[action];
      if (stateAction) {
        enforce(c, stateAction.policy);
        const transition = stateAction.transition(arg);
        const call = stateAction.call(arg);
        await gw.operations.act(
          await loadServer(gw, c, request.params.id),
          transition,
          call,
          actionContext(request, c),
        );
        return reply.code(202).send();
      }
      if (action === 'os-migrateLive') {
        enforce(c, 'os_compute_api:os-migrate-server:migrate_live');
        const req = liveMigrationRequest(arg, request.microversion);
        const rec = await loadServer(gw, c, request.params.id);
        await gw.liveMigrations.start(rec, req, actionContext(request, c));
        return reply.code(202).send();
      }
      if (action === 'os-getConsoleOutput') {
        enforce(c, 'os_compute_api:os-console-output');
        const length = consoleLength(arg);
        const rec = await loadServer(gw, c, request.params.id);
        return { output: await gw.operations.consoleOutput(rec, length) };
      }
      throw badRequest(`There is no such action: ${action}`);
    },
  );
}
