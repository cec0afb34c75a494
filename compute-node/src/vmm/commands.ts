// The control protocol's commands: their arguments (checked before anything runs, with QMP's
// error wording) and what each does to the VM. `console` is not here: it changes what the
// connection itself is, so the server handles it.
import { CommandError, greeting } from './protocol.js';
import type { VmProcess } from './vm-process.js';

type ArgType = 'string' | 'boolean' | 'number';

interface CommandSpec {
  args?: Record<string, { type: ArgType; optional?: boolean }>;
  run(vm: VmProcess, args: Record<string, unknown>): unknown;
}

const ok = {};

/** `quit` answers first, then ends the process (after the reply has been written). */
function quitAfterReply(vm: VmProcess): object {
  setImmediate(() => vm.shutdown('host-qmp-quit'));
  return ok;
}

const pathArg = { path: { type: 'string' as const } };

function nonEmptyPath(args: Record<string, unknown>): string {
  const path = args.path as string;
  if (path === '') throw new CommandError('GenericError', "Parameter 'path' must not be empty");
  return path;
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
  quit: { run: quitAfterReply },
  savevm: { args: pathArg, run: (vm, a) => vm.save(nonEmptyPath(a)) },
  loadvm: { args: pathArg, run: async (vm, a) => (await vm.load(nonEmptyPath(a)), ok) },
  'dirty-log-start': { run: (vm) => (vm.dirtyLogStart(), ok) },
  'dirty-log-fetch': { run: (vm) => vm.dirtyLogFetch() },
  'dirty-log-stop': { run: (vm) => (vm.dirtyLogStop(), ok) },
  'human-monitor-command': { args: { 'command-line': { type: 'string' }, 'cpu-index': { type: 'number', optional: true } }, run: (vm, a) => hmp(vm, a['command-line'] as string) },
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
    } else if (typeof v !== type) {
      throw new CommandError('GenericError', `Invalid parameter type for '${key}', expected: ${type}`);
    }
  }
}

const HMP_HELP = `info status | info version | stop | cont | system_reset | system_powerdown | quit
savevm PATH | loadvm PATH | sysrq KEY (break + KEY on the serial line: Linux's magic SysRq)
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
      if (arg === 'version') return `${greeting().QMP.version.package} ${Object.values(greeting().QMP.version.qemu).join('.')}\r\n`;
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
      await vm.save(nonEmptyPath({ path: arg }));
      return '';
    case 'loadvm':
      await vm.load(nonEmptyPath({ path: arg }));
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
