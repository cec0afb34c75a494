// Starting VM processes and telling whether one still lives. A VM process is started detached
// (its own process group, stdio to a file, not waited for), so stopping or restarting the agent
// leaves it running; it is then known by pid plus the start time the kernel records for it,
// because a pid alone may be reused by another process after the VM died.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { vmEnvironment } from './confinement.js';

export interface VmLaunch {
  kernel: string;
  append?: string;
  memoryMb: number;
  disk?: string;
  /** The disk's virtual size: an incoming process then leaves it closed until the migration ends (shared storage). */
  diskSize?: number;
  serialLog: string;
  controlSocket: string;
  name: string;
  /** Restore the state saved at this path instead of booting. */
  incoming?: string;
  /** Where the process's stdout/stderr go. */
  log: string;
}

export interface StartedVm {
  pid: number;
  pidStart: string;
  /** Resolves when the process exits, while this agent is its parent (null signal/code unknown). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The `vm run` options for a launch (the VM process's command-line contract). */
export function vmRunArgs(l: VmLaunch): string[] {
  const args = ['--kernel', l.kernel, '--memory', String(l.memoryMb)];
  if (l.append) args.push('--append', l.append);
  if (l.disk) args.push('--disk', `${l.disk},format=qcow2${l.diskSize === undefined ? '' : `,size=${l.diskSize}`}`);
  // The keyboard is how system_powerdown (stop, soft reboot) reaches the guest's init.
  args.push(
    '--rng',
    '--keyboard',
    '--console',
    'none',
    '--serial-log',
    l.serialLog,
    '--control',
    `unix:${l.controlSocket}`,
    '--name',
    l.name,
  );
  if (l.incoming) args.push('--incoming', l.incoming);
  return args;
}

/** The default command: this checkout's hypernova CLI, `vm run`. */
export function defaultVmCommand(): string[] {
  const require = createRequire(import.meta.url);
  let cli: string;
  try {
    cli = join(dirname(require.resolve('hypernova/package.json')), 'bin', 'hypernova.js');
  } catch {
    // Not resolvable as a package (e.g. a trimmed install): the monorepo layout.
    cli = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..', '..', 'cli', 'bin', 'hypernova.js');
  }
  return [process.execPath, cli, 'vm', 'run'];
}

/**
 * What VM processes run with: glibc keeps freed buffers (migration frames, socket reads) in its
 * heap instead of unmapping them, so reusing them costs no page faults (tens of µs each on some
 * hosts, in the middle of a migration); the price is memory a busy VM process keeps after a burst.
 */
export const VM_PROCESS_ENV = {
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824',
};

export function startVmProcess(command: readonly string[], launch: VmLaunch): StartedVm {
  const [exe, ...pre] = command;
  if (!exe) throw new Error('empty VM command');
  const out = openSync(launch.log, 'a');
  try {
    const child = spawn(exe, [...pre, ...vmRunArgs(launch)], {
      detached: true,
      stdio: ['ignore', out, out],
      // Nothing of the agent's environment (cluster URLs, credentials) reaches a VM process.
      env: vmEnvironment(VM_PROCESS_ENV),
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    child.unref();
    const pid = child.pid;
    if (pid === undefined) throw new Error(`cannot start VM process ${exe}`);
    return { pid, pidStart: processStartTime(pid) ?? '', exited };
  } finally {
    closeSync(out);
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined when gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // exited, not yet reaped
    return fields[19];
  } catch {
    return undefined;
  }
}

/** Whether the process that was started as (pid, pidStart) is still running. */
export function isVmAlive(pid: number | undefined, pidStart: string | undefined): boolean {
  if (!pid) return false;
  const start = processStartTime(pid);
  if (start !== undefined) return !pidStart || start === pidStart;
  if (process.platform === 'linux') return false;
  try {
    process.kill(pid, 0); // no /proc (not Linux): existence is all we can check
    return true;
  } catch {
    return false;
  }
}

/** Sends a signal to the process; false when it was already gone. */
export function signalVm(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
