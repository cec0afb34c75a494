// The VM process from start to exit: `hypernova vm run` (parse flags, build the VM, serve the
// control socket, attach the terminal, run, tear down) and `hypernova vm net-hub`.
import { ControlServer } from './control-server.js';
import { NetHub } from './net-socket.js';
import { parseVmArgs, UsageError } from './options.js';
import { VmProcess } from './vm-process.js';

/** The terminal side of `--console stdio`, provided by the CLI (raw mode, Ctrl-A escapes). */
export type AttachTerminal = (send: (bytes: Uint8Array) => void, quit: () => void) => { detach(): void };

export interface RunHooks {
  attachTerminal?: AttachTerminal;
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

/** Runs one VM in this process; resolves with the process exit status. Throws (status 1) on bad flags or images. */
export async function runVmProcess(argv: string[], hooks: RunHooks = {}): Promise<number> {
  const opts = parseVmArgs(argv);
  if (opts.name !== undefined) process.title = `hypernova-vm ${opts.name}`;
  const vm = await VmProcess.create(opts);
  let control: ControlServer | undefined;
  if (opts.control !== undefined) {
    try {
      control = await ControlServer.listen(opts.control, vm);
    } catch (e) {
      vm.close();
      throw e;
    }
  }
  // A supervisor's SIGTERM ends the VM cleanly (disks flushed, socket removed), as QEMU does.
  const onSignal = (): void => vm.shutdown('host-signal');
  for (const s of STOP_SIGNALS) process.on(s, onSignal);
  // Guest output must not kill the VM when whoever reads stdout goes away.
  const onStdoutError = (): void => {};
  process.stdout.on('error', onStdoutError);
  const term =
    opts.console === 'stdio'
      ? hooks.attachTerminal?.(
          (b) => vm.sendInput(b),
          () => vm.shutdown('host-ui'),
        )
      : undefined;
  try {
    return await vm.run();
  } finally {
    term?.detach();
    control?.close();
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
    process.stdout.off('error', onStdoutError);
  }
}

export const NET_HUB_USAGE = 'usage: hypernova vm net-hub unix:PATH';

/** `hypernova vm net-hub unix:PATH`: an Ethernet hub for VMs in other processes, until SIGTERM/SIGINT. */
export async function runNetHub(argv: string[]): Promise<number> {
  const [where, ...extra] = argv;
  if (!where?.startsWith('unix:') || where.length === 5 || extra.length) throw new UsageError(NET_HUB_USAGE);
  const hub = await NetHub.listen(where.slice(5));
  await new Promise<void>((resolve) => {
    const done = (): void => {
      for (const s of STOP_SIGNALS) process.off(s, done);
      resolve();
    };
    for (const s of STOP_SIGNALS) process.on(s, done);
  });
  hub.close();
  return 0;
}
