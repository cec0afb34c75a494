// The control protocol's commands: their arguments (checked before anything runs, with QMP's
// error wording) and what each does to the VM. `console` is not here: it changes what the
// connection itself is, so the server handles it.
import { QCODE_KEYS } from '@hypernova/hypervisor';
import type { MigrationParams, MigrationTarget, Supervisor } from './migration.js';
import { CommandError, greeting, type MigrateOwnershipArgs } from './protocol.js';
import type { VmProcess } from './vm-process.js';

type ArgType = 'string' | 'boolean' | 'number' | 'array';
type ArgSpecs = Record<string, { type: ArgType; optional?: boolean }>;

interface CommandSpec {
  args?: ArgSpecs;
  /** `client` is the connection that sent the command. */
  run(vm: VmProcess, args: Record<string, unknown>, client: Supervisor): unknown;
}

const ok = {};

/** `quit` answers first, then ends the process (after the reply has been written). */
function quitAfterReply(vm: VmProcess): object {
  setImmediate(() => vm.shutdown('host-qmp-quit'));
  return ok;
}

const pathArg = { path: { type: 'string' as const } };

/** A string argument that must not be empty (checkArgs has checked its type). */
function nonEmpty(args: Record<string, unknown>, key: string): string {
  const v = args[key] as string;
  if (v === '') throw new CommandError('GenericError', `Parameter '${key}' must not be empty`);
  return v;
}

const migrationTargetArgs: ArgSpecs = {
  id: { type: 'string' },
  uri: { type: 'string' },
  key: { type: 'string' },
  encrypt: { type: 'boolean', optional: true },
  ownership: { type: 'boolean', optional: true },
  blk: { type: 'boolean', optional: true },
  creds: { type: 'string', optional: true },
  ca: { type: 'string', optional: true },
};

const migrationParameterArgs: ArgSpecs = {
  'downtime-limit': { type: 'number', optional: true },
  'max-bandwidth': { type: 'number', optional: true },
};

const KEY_HEX = /^[0-9a-f]{64}$/i;

function migrationTarget(args: Record<string, unknown>): MigrationTarget {
  const key = args.key as string;
  if (!KEY_HEX.test(key)) throw new CommandError('GenericError', "Parameter 'key' must be 64 hex digits (256 bits)");
  return {
    id: nonEmpty(args, 'id'),
    uri: nonEmpty(args, 'uri'),
    key: Buffer.from(key, 'hex'),
    encrypt: args.encrypt !== false,
    ownership: args.ownership === true,
    blk: args.blk === true,
    ...(args.ca ? { auth: { ca: args.ca as string, creds: args.creds as string | undefined } } : {}),
  };
}

function ownershipAnswer(args: Record<string, unknown>): MigrateOwnershipArgs {
  const { request, outcome, error } = args as Partial<MigrateOwnershipArgs>;
  if (outcome !== undefined && outcome !== 'committed' && outcome !== 'aborted')
    throw new CommandError('GenericError', "Parameter 'outcome' must be 'committed' or 'aborted'");
  if ((outcome === undefined) === (error === undefined))
    throw new CommandError('GenericError', "One of 'outcome' and 'error' is expected");
  return { request: request!, outcome, error };
}

/**
 * Below this the migration library's estimate (at least 1 ms plus a round trip) never fits, and
 * its source then loops without yielding once a pass finds nothing to send: the process freezes.
 */
const MIN_DOWNTIME_LIMIT_MS = 10;

function migrationParams(args: Record<string, unknown>): MigrationParams {
  const limit = args['downtime-limit'] as number | undefined;
  const bandwidth = args['max-bandwidth'] as number | undefined;
  if (limit !== undefined && !(limit >= MIN_DOWNTIME_LIMIT_MS)) {
    throw new CommandError('GenericError', `Parameter 'downtime-limit' must be at least ${MIN_DOWNTIME_LIMIT_MS} ms`);
  }
  if (bandwidth !== undefined && !(bandwidth >= 0))
    throw new CommandError('GenericError', "Parameter 'max-bandwidth' must be bytes/s, 0 for no cap");
  return {
    ...(limit === undefined ? {} : { downtimeLimitMs: limit }),
    ...(bandwidth === undefined ? {} : { maxBandwidth: bandwidth }),
  };
}

/** Keys one send-key presses together at most (a chord, not a text). */
const MAX_KEYS = 16;

/** QKeyCode names → evdev key codes, checked. */
function keyCodes(names: readonly string[], what: (i: number) => string): number[] {
  if (names.length < 1 || names.length > MAX_KEYS)
    throw new CommandError('GenericError', `Parameter 'keys' must list 1 to ${MAX_KEYS} keys`);
  return names.map((name, i) => {
    const code = Object.hasOwn(QCODE_KEYS, name) ? QCODE_KEYS[name] : undefined;
    if (code === undefined)
      throw new CommandError('GenericError', `Parameter '${what(i)}' does not accept value '${name}'`);
    return code;
  });
}

/** send-key's `keys`: QMP KeyValues, of which only {type: 'qcode', data: NAME} is supported. */
function qcodeKeys(keys: unknown[]): number[] {
  const names = keys.map((k, i) => {
    const kv = k as { type?: unknown; data?: unknown } | null;
    if (typeof kv !== 'object' || kv === null || Array.isArray(kv))
      throw new CommandError('GenericError', `Invalid parameter type for 'keys[${i}]', expected: object`);
    if (kv.type !== 'qcode')
      throw new CommandError(
        'GenericError',
        `Parameter 'keys[${i}].type' must be 'qcode' (key numbers are not supported)`,
      );
    if (typeof kv.data !== 'string')
      throw new CommandError('GenericError', `Invalid parameter type for 'keys[${i}].data', expected: string`);
    return kv.data;
  });
  return keyCodes(names, (i) => `keys[${i}].data`);
}

export const COMMANDS: Record<string, CommandSpec> = {
  qmp_capabilities: { args: { enable: { type: 'string', optional: true } }, run: () => ok },
  'query-version': { run: () => greeting().QMP.version },
  'query-commands': { run: () => [...Object.keys(COMMANDS), 'console'].map((name) => ({ name })) },
  'query-status': { run: (vm) => vm.statusInfo() },
  'query-stats': { run: (vm) => vm.queryStats() },
  stop: { run: (vm) => (vm.stop(), ok) },
  cont: { run: (vm) => (vm.cont(), ok) },
  system_reset: { run: (vm) => (vm.reset(), ok) },
  system_powerdown: { run: (vm) => (vm.powerdown(), ok) },
  'send-key': { args: { keys: { type: 'array' } }, run: (vm, a) => (vm.sendKey(qcodeKeys(a.keys as unknown[])), ok) },
  quit: { run: quitAfterReply },
  savevm: { args: pathArg, run: (vm, a) => vm.save(nonEmpty(a, 'path')) },
  loadvm: { args: pathArg, run: async (vm, a) => (await vm.load(nonEmpty(a, 'path')), ok) },
  'dirty-log-start': { run: (vm) => (vm.dirtyLogStart(), ok) },
  'dirty-log-fetch': { run: (vm) => vm.dirtyLogFetch() },
  'dirty-log-stop': { run: (vm) => (vm.dirtyLogStop(), ok) },
  'migrate-incoming': {
    args: migrationTargetArgs,
    run: async (vm, a, client) => (await vm.migration.incoming(migrationTarget(a), client), ok),
  },
  migrate: {
    args: { ...migrationTargetArgs, ...migrationParameterArgs, verify: { type: 'boolean', optional: true } },
    run: async (vm, a) => (
      await vm.migration.outgoing({ ...migrationTarget(a), ...migrationParams(a), verify: a.verify === true }),
      ok
    ),
  },
  'migrate-ownership': {
    args: {
      request: { type: 'number' },
      outcome: { type: 'string', optional: true },
      error: { type: 'string', optional: true },
    },
    run: (vm, a) => (vm.migration.answer(ownershipAnswer(a)), ok),
  },
  'query-migrate': { run: (vm) => vm.migration.query() },
  migrate_cancel: { run: (vm) => (vm.migration.cancel(), ok) },
  'migrate-set-parameters': {
    args: migrationParameterArgs,
    run: (vm, a) => (vm.migration.setParameters(migrationParams(a)), ok),
  },
  'migrate-force-complete': { run: (vm) => (vm.migration.forceComplete(), ok) },
  'human-monitor-command': {
    args: { 'command-line': { type: 'string' }, 'cpu-index': { type: 'number', optional: true } },
    run: (vm, a) => hmp(vm, a['command-line'] as string),
  },
};

/** Checks `args` against the command's declaration. */
export function checkArgs(name: string, args: Record<string, unknown>): void {
  const spec = COMMANDS[name]!.args ?? {};
  for (const key of Object.keys(args)) {
    if (!(key in spec)) throw new CommandError('GenericError', `Parameter '${key}' is unexpected`);
  }
  for (const [key, { type, optional }] of Object.entries(spec)) {
    const v = args[key];
    if (v === undefined) {
      if (!optional) throw new CommandError('GenericError', `Parameter '${key}' is missing`);
    } else if (type === 'array' ? !Array.isArray(v) : typeof v !== type) {
      throw new CommandError('GenericError', `Invalid parameter type for '${key}', expected: ${type}`);
    }
  }
}

const HMP_HELP = `info status | info version | stop | cont | system_reset | system_powerdown | quit
savevm PATH | loadvm PATH | sysrq KEY (break + KEY on the serial line: Linux's magic SysRq)
sendkey KEYS (QKeyCode names joined by '-', e.g. ctrl-alt-delete, on the --keyboard)
`;

/** The human monitor's few commands, answered as text (as QEMU's HMP). */
async function hmp(vm: VmProcess, line: string): Promise<string> {
  const [cmd = '', ...rest] = line.trim().split(/\s+/);
  const arg = rest.join(' ');
  switch (cmd) {
    case 'info':
      if (arg === 'status') {
        const s = vm.statusInfo();
        return `VM status: ${s.status}\r\n`;
      }
      if (arg === 'version')
        return `${greeting().QMP.version.package} ${Object.values(greeting().QMP.version.qemu).join('.')}\r\n`;
      return `unknown info: '${arg}'\r\n`;
    case 'stop':
      vm.stop();
      return '';
    case 'c':
    case 'cont':
      vm.cont();
      return '';
    case 'system_reset':
      vm.reset();
      return '';
    case 'system_powerdown':
      vm.powerdown();
      return '';
    case 'q':
    case 'quit':
      quitAfterReply(vm);
      return '';
    case 'savevm':
      await vm.save(nonEmpty({ path: arg }, 'path'));
      return '';
    case 'loadvm':
      await vm.load(nonEmpty({ path: arg }, 'path'));
      return '';
    case 'sendkey':
      vm.sendKey(keyCodes(arg === '' ? [] : arg.split('-'), () => 'keys'));
      return '';
    case 'sysrq':
      if (arg.length !== 1) return 'sysrq takes one key\r\n';
      return (await vm.sysrq(arg)) ? '' : 'the guest is not reading its serial line\r\n';
    case 'help':
    case '?':
      return HMP_HELP;
    default:
      return `unknown command: '${cmd}'\r\n`;
  }
}
