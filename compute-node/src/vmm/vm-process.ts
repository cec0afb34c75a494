// One VM: the Machine with its disks, NICs, rng and keyboard built from the `vm run` flags, its run
// state as QEMU names it, and every operation the control protocol offers on it. The control
// server (control-server.ts) and the terminal only call into this.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import {
  keyboardConfig,
  keyPress,
  Machine,
  openDisk,
  VirtioBlk,
  VirtioInput,
  VirtioNet,
  VirtioRng,
  type BiosChoice,
  type BlockBackend,
  type MachineExit,
  type NetBackend,
  type VirtioDevice,
} from '@hypernova/hypervisor';
import { ConsoleWatch } from './console-watch.js';
import { EventBus } from './events.js';
import { InactiveDisk } from './inactive-disk.js';
import { Migrations } from './migration.js';
import { SocketNetBackend, UnpluggedNetBackend } from './net-socket.js';
import type { NetSpec, VmOptions } from './options.js';
import { requestPowerdown, sendSysrq, type PowerdownTarget } from './powerdown.js';
import {
  CommandError,
  type DirtyLogFetch,
  type RunStatus,
  type ShutdownReason,
  type StatusInfo,
  type VmStats,
} from './protocol.js';
import { readStateFile, writeFileAtomic } from './state-file.js';
import { StatsSampler } from './stats.js';

type ClosableNet = NetBackend & { close(): void };

function readInput(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${what} '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

async function openNet(spec: NetSpec): Promise<ClosableNet> {
  if (!spec.link) return new UnpluggedNetBackend();
  return spec.link.listen ? SocketNetBackend.listen(spec.link.path) : SocketNetBackend.connect(spec.link.path);
}

export class VmProcess {
  readonly events = new EventBus();
  readonly machine: Machine;
  readonly migration: Migrations;
  private status: RunStatus;
  private readonly watch: ConsoleWatch;
  private readonly stats: StatsSampler;
  private readonly consoleTaps = new Set<(bytes: Uint8Array) => void>();
  private serialLog: number | undefined;
  /** Guest time while stopped: it stands still, as QEMU's virtual clock does. */
  private frozenAt: number | undefined;
  private shutdownReason: ShutdownReason | undefined;
  private hostReset = false;
  private dirtyPagesTotal = 0;
  private finished = false;

  private constructor(
    readonly options: VmOptions,
    images: ConstructorParameters<typeof Machine>[0],
    private readonly disks: BlockBackend[],
    private readonly nets: ClosableNet[],
    private readonly keyboard: VirtioInput | undefined,
    devices: VirtioDevice[],
  ) {
    this.watch = new ConsoleWatch((message) =>
      this.events.emit('GUEST_PANICKED', { action: 'run', info: { message } }),
    );
    if (options.serialLog !== undefined) {
      try {
        this.serialLog = openSync(options.serialLog, 'a');
      } catch (e) {
        throw new Error(
          `cannot open serial log '${options.serialLog}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
    }
    this.machine = new Machine(images, {
      config: { memoryMiB: options.memoryMiB },
      console: (b) => this.onConsole(b),
      devices,
      onReboot: () => this.onReboot(),
    });
    this.stats = new StatsSampler({
      instret: () => this.machine.hart.instret,
      guestMemoryBytes: this.machine.ram.size,
      dirtyLogActive: () => this.machine.ram.dirtyLogActive,
      dirtyPagesTotal: () => this.dirtyPagesTotal,
    });
    this.status = options.incoming?.kind === 'defer' ? 'inmigrate' : 'running';
    this.migration = new Migrations({
      machine: this.machine,
      disks,
      events: this.events,
      status: () => this.status,
      arrived: () => this.migratedIn(),
      departed: () => this.migratedOut(),
      stayed: () => this.notMigrated(),
      abandoned: () => this.shutdown('host-error'),
      activateDisks: () => this.activateDisks(),
    });
  }

  /** Builds the VM from its flags; with --incoming PATH, restores the saved state too. */
  static async create(options: VmOptions): Promise<VmProcess> {
    const images = {
      kernel: readInput(options.kernel, 'kernel'),
      initrd: options.initrd === undefined ? undefined : readInput(options.initrd, 'initrd'),
      append: options.append,
      bios: (options.bios === 'builtin' || options.bios === 'none'
        ? options.bios
        : readInput(options.bios, 'firmware')) as BiosChoice,
      dtb: options.dtb === undefined ? undefined : readInput(options.dtb, 'device tree'),
    };
    const disks: BlockBackend[] = [];
    const nets: ClosableNet[] = [];
    const release = (): void => {
      for (const d of disks) d.close();
      for (const n of nets) n.close();
    };
    let vm: VmProcess;
    try {
      const deferred = options.incoming?.kind === 'defer';
      for (const d of options.disks) {
        if (d.size === undefined) disks.push(openDisk(d.path, { format: d.format, readOnly: d.readOnly }));
        else {
          const disk = new InactiveDisk(d, d.size);
          disks.push(disk);
          if (!deferred) disk.activate();
        }
      }
      for (const n of options.nets) nets.push(await openNet(n));
      const keyboard = options.keyboard ? new VirtioInput(keyboardConfig()) : undefined;
      // Slots: disks, then NICs, then the rng, then the keyboard, each in flag order (a restore
      // needs the same layout).
      const devices: VirtioDevice[] = [
        ...disks.map((d) => new VirtioBlk(d)),
        ...nets.map((backend, i) => new VirtioNet({ mac: options.nets[i]!.mac, backend })),
        ...(options.rng ? [new VirtioRng()] : []),
        ...(keyboard ? [keyboard] : []),
      ];
      vm = new VmProcess(options, images, disks, nets, keyboard, devices);
    } catch (e) {
      release();
      throw e;
    }
    try {
      if (options.incoming?.kind === 'file') {
        const path = options.incoming.path;
        vm.restoreFrom(path, await readStateFile(path));
      }
    } catch (e) {
      vm.close();
      throw e;
    }
    if (vm.status === 'inmigrate' || options.paused) vm.enterPause(vm.status === 'inmigrate' ? 'inmigrate' : 'paused');
    return vm;
  }

  get alive(): boolean {
    return !this.finished;
  }

  /** Runs until the guest powers off or the host ends the VM; returns the process exit status. */
  async run(): Promise<number> {
    let exit: MachineExit;
    try {
      exit = await this.machine.run();
    } catch (e) {
      this.shutdownReason = 'host-error';
      this.finish();
      throw e;
    }
    const reason = this.shutdownReason ?? 'guest-shutdown';
    this.finish();
    this.events.emit('SHUTDOWN', { guest: reason === 'guest-shutdown', reason });
    if (reason !== 'guest-shutdown') return 0;
    // Exit statuses are one byte: a failure code must not wrap around to success.
    return exit.code === 0 ? 0 : exit.code & 0xff || 1;
  }

  // --- run state ---

  statusInfo(): StatusInfo {
    // Only an outgoing migration pauses a running guest behind the status: its switch-over, which
    // QEMU reports as finish-migrate.
    if (this.status === 'running' && this.machine.isPaused)
      return { running: false, status: 'finish-migrate', singlestep: false };
    return { running: this.status === 'running', status: this.status, singlestep: false };
  }

  stop(): void {
    this.checkAlive();
    if (this.status !== 'running') return;
    this.enterPause('paused');
    this.events.emit('STOP', {});
  }

  cont(): void {
    this.checkRunnable();
    this.checkNoMigration();
    if (this.status !== 'paused') return;
    this.leavePause();
    this.events.emit('RESUME', {});
  }

  private enterPause(status: 'paused' | 'inmigrate'): void {
    this.frozenAt ??= this.machine.clock.now();
    this.machine.pause();
    this.status = status;
  }

  private leavePause(): void {
    this.pinTime();
    this.frozenAt = undefined;
    this.status = 'running';
    this.machine.resume();
  }

  /** While stopped the host clock moves on: set guest time back to where it stood. */
  private pinTime(): void {
    if (this.frozenAt !== undefined) this.machine.clock.resumeAt(this.frozenAt);
  }

  reset(): void {
    this.checkRunnable();
    this.checkNoMigration();
    this.hostReset = true;
    this.machine.reset();
  }

  private onReboot(): void {
    this.watch.reset();
    const host = this.hostReset;
    this.hostReset = false;
    this.events.emit('RESET', { guest: !host, reason: host ? 'host-qmp-system-reset' : 'guest-reset' });
  }

  /** Asks the guest to power off (see powerdown.ts); returns at once. */
  powerdown(): void {
    this.checkRunnable();
    this.events.emit('POWERDOWN', {});
    void requestPowerdown(this.powerdownTarget());
  }

  /** Presses the keys (evdev codes) together, then releases them, on the VM's keyboard. */
  sendKey(codes: readonly number[]): void {
    this.checkRunnable();
    const kb = this.keyboard;
    if (!kb) throw new CommandError('GenericError', 'the VM has no keyboard: start it with --keyboard');
    if (!kb.driverReady) throw new CommandError('GenericError', 'the guest has no keyboard driver running (yet)');
    if (!kb.send(keyPress(codes)))
      throw new CommandError('GenericError', 'the guest is not reading its keyboard: too many key events wait already');
  }

  /** Sends break + key on the serial line (Linux: a magic SysRq); false if the guest never took earlier input. */
  sysrq(key: string): Promise<boolean> {
    this.checkRunnable();
    return sendSysrq(this.powerdownTarget(), key);
  }

  private powerdownTarget(): PowerdownTarget {
    const alive = (): boolean => this.alive;
    return {
      uart: this.machine.uart,
      sendInput: (b) => this.sendInput(b),
      waitForConsole: (text, ms) => this.watch.waitFor(text, ms),
      keyboard: this.keyboard,
      get alive() {
        return alive();
      },
    };
  }

  /** Ends the VM (quit, Ctrl-A X, a signal); run() then resolves. */
  shutdown(reason: ShutdownReason): void {
    if (this.finished) return;
    this.shutdownReason ??= reason;
    this.machine.powerOffNow();
  }

  private checkAlive(): void {
    if (this.finished) throw new CommandError('GenericError', 'the VM has shut down');
  }

  /** For requests to the guest: there must be one, and here. */
  private checkRunnable(): void {
    this.checkAlive();
    if (this.status === 'inmigrate')
      throw new CommandError('GenericError', 'the guest has no state yet: load one with loadvm');
    this.checkNotMigrated();
  }

  private checkNotMigrated(): void {
    if (this.status === 'postmigrate')
      throw new CommandError(
        'GenericError',
        'the guest has migrated to another host (status postmigrate): only quit is left',
      );
  }

  /** A migration reads the guest's RAM and devices (and uses the dirty log): nothing may rewrite them or resume the guest meanwhile. */
  private checkNoMigration(): void {
    if (this.migration.inProgress)
      throw new CommandError('GenericError', 'a migration is in progress: wait for it to end, or migrate_cancel');
  }

  // --- migration (migration.ts runs it; these are its effects on the run state) ---

  /** Incoming migration done: the library resumed the guest here. */
  private migratedIn(): void {
    this.frozenAt = undefined;
    this.watch.reset();
    this.stats.rebase();
    // Called before the machine's loop runs again, so a --paused guest never runs a slice.
    if (this.options.paused) this.enterPause('paused');
    else {
      this.status = 'running';
      this.events.emit('RESUME', {});
    }
  }

  /** Opens the disks an incoming VM left closed (idempotent). */
  private activateDisks(): void {
    for (const d of this.disks) if (d instanceof InactiveDisk) d.activate();
  }

  /**
   * Outgoing migration done: the guest runs at the destination; the machine here stays paused
   * for good. Its disks, flushed in the pause, are closed now: on shared storage the destination
   * owns the files, and nothing here may write them again.
   */
  private migratedOut(): void {
    const wasRunning = this.status === 'running';
    this.status = 'postmigrate';
    this.closeDisks();
    if (wasRunning) this.events.emit('STOP', {});
  }

  /** Outgoing migration failed: the library resumed the guest it paused; a guest its owner stopped stays stopped. */
  private notMigrated(): void {
    if (this.status === 'paused') this.machine.pause();
  }

  // --- saved state ---

  /** Writes the machine state to `path` atomically; the run state is left as it was. */
  async save(path: string): Promise<{ size: number }> {
    this.checkRunnable();
    if (this.status === 'paused') this.pinTime();
    // A consistent point: RAM, CPU and devices now, and disks holding every write made so far.
    const state = this.machine.saveState();
    for (const d of this.disks) d.flush();
    try {
      await writeFileAtomic(path, state);
    } catch (e) {
      throw new CommandError('GenericError', (e as Error).message);
    }
    return { size: state.length };
  }

  /**
   * Replaces the guest's state with the one saved at `path`. A bad file leaves the VM exactly as
   * it was. Into a process waiting with --incoming defer the guest then starts (unless --paused);
   * otherwise it keeps its run state.
   */
  async load(path: string): Promise<void> {
    this.checkAlive();
    this.checkNotMigrated();
    this.checkNoMigration();
    let bytes: Buffer;
    try {
      bytes = await readStateFile(path);
    } catch (e) {
      throw new CommandError('GenericError', (e as Error).message);
    }
    this.checkAlive();
    try {
      // A process waiting with --incoming defer may have left its disks closed.
      if (this.status === 'inmigrate') this.activateDisks();
      this.restoreFrom(path, bytes);
    } catch (e) {
      throw new CommandError('GenericError', (e as Error).message);
    }
    if (this.status === 'inmigrate') {
      if (this.options.paused) this.status = 'paused';
      else {
        this.leavePause();
        this.events.emit('RESUME', {});
      }
    }
  }

  private restoreFrom(path: string, bytes: Uint8Array): void {
    try {
      this.machine.restoreState(bytes);
    } catch (e) {
      throw new Error(`cannot restore ${path}: ${(e as Error).message}`);
    }
    // The restored clock is the guest's time now; a stopped guest keeps it.
    if (this.frozenAt !== undefined) this.frozenAt = this.machine.clock.now();
    this.watch.reset();
    this.stats.rebase();
  }

  // --- dirty log ---

  dirtyLogStart(): void {
    this.checkAlive();
    this.checkNoMigration();
    this.machine.ram.startDirtyLog();
  }

  dirtyLogFetch(): DirtyLogFetch {
    this.checkAlive();
    this.checkNoMigration();
    const ram = this.machine.ram;
    if (!ram.dirtyLogActive)
      throw new CommandError('GenericError', 'dirty logging is not active: dirty-log-start first');
    const pages = ram.fetchDirtyLog();
    this.dirtyPagesTotal += pages.length;
    return { pages, page_size: 4096, ram_base: ram.base };
  }

  dirtyLogStop(): void {
    this.checkAlive();
    this.checkNoMigration();
    this.machine.ram.stopDirtyLog();
  }

  queryStats(): VmStats {
    return this.stats.read();
  }

  // --- serial console ---

  sendInput(bytes: Uint8Array): void {
    if (!this.finished) this.machine.sendInput(bytes);
  }

  /** Receives everything the guest prints from now on; returns the detach function. */
  tapConsole(fn: (bytes: Uint8Array) => void): () => void {
    this.consoleTaps.add(fn);
    return () => this.consoleTaps.delete(fn);
  }

  private onConsole(bytes: Uint8Array): void {
    if (this.options.console === 'stdio') process.stdout.write(bytes);
    if (this.serialLog !== undefined) {
      try {
        writeSync(this.serialLog, bytes);
      } catch {
        // A full disk must not take the VM down; the log is best effort.
      }
    }
    for (const tap of this.consoleTaps) tap(bytes);
    this.watch.feed(bytes);
  }

  // --- teardown ---

  private finish(): void {
    if (this.finished) return;
    this.migration.abort('the VM has shut down');
    this.status = 'shutdown';
    this.finished = true;
    this.close();
  }

  /** Flushes and closes disks, unplugs NICs, closes the serial log. Idempotent. */
  close(): void {
    this.finished = true;
    this.stats.stop();
    this.watch.close();
    this.closeDisks();
    for (const n of this.nets.splice(0)) n.close();
    if (this.serialLog !== undefined) closeSync(this.serialLog);
    this.serialLog = undefined;
  }

  private closeDisks(): void {
    const errors: string[] = [];
    for (const d of this.disks.splice(0)) {
      try {
        d.flush();
        d.close();
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) process.stderr.write(`hypernova: closing disks: ${errors.join('; ')}\n`);
  }
}
