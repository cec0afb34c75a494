// One instance on this node and its VM process (like a libvirt domain): starts, stops, pauses,
// suspends and reboots it over its control socket, and supervises it. The process is watched
// two ways: its control connection closing (at once when it dies) and a periodic look at
// /proc (the process may not be our child any more after an agent restart). A death the agent
// did not ask for is classified (guest power-off, guest panic, crash) and handed to onObserved.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { ConflictError, errorMessage, suppressed, type Logger } from '@hypernova/common';
import { PowerState } from '@hypernova/cluster-state';
import type { compute } from '@hypernova/proto';
import type { Ownership } from '../migration/index.js';
import type { InstanceDir, InstanceMeta } from './instance-dir.js';
import type { ObservedChange } from './reporter.js';
import { QmpClient, type QmpEvent } from './qmp-client.js';
import { backingChain, VmJail, type VmConfinement, type VmIdentity } from './confinement.js';
import { isVmAlive, signalVm, startVmProcess, type StartedVm } from './vm-process.js';

export interface VmEnvironment {
  host: string;
  vmCommand: readonly string[];
  confinement?: VmConfinement;
  vmStartTimeoutMs: number;
  cleanShutdownTimeoutS: number;
  logger: Logger;
  /** A change the VM made on its own (the agent did not ask for it). */
  onObserved(vm: ManagedVm, change: ObservedChange): void;
  /** An incoming live migration ended: the guest runs here (ok) or the prepared VM is to go. */
  onIncomingSettled(vm: ManagedVm, ok: boolean, error?: string): void;
}

/** How an outgoing live migration ended, with the VM process's last MIGRATION event data. */
export interface MigrationEnd {
  status: 'completed' | 'failed' | 'cancelled';
  data: Record<string, unknown>;
}

const MIGRATION_ENDS = new Set(['completed', 'failed', 'cancelled']);

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const EXIT_POLL_MS = 50;

export class ManagedVm {
  private qmp: QmpClient | undefined;
  private paused = false;
  /** Set while the agent itself ends the process (stop, suspend, destroy): no report then. */
  private expectingExit = false;
  /** What the current process said before it went: a guest shutdown or panic. */
  private lastWords: 'shutdown' | 'panic' | undefined;
  /** The exit status, known while this agent is the process's parent. */
  private exitStatus: Promise<Exit> | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private reconnecting = false;
  /** While launch() waits for a new process: supervision must not race it for the socket. */
  private launching = false;
  /** While migrating away: a death is settled by the migration's outcome, not reported as a crash. */
  private migrating = false;
  private readonly eventWatchers = new Set<(e: QmpEvent) => void>();
  /** While a migration runs, in or out: the ownership steps its VM process asks for (MIGRATION_OWNERSHIP). */
  private ownership: Ownership | undefined;
  /** Operation in progress (InstanceInfo.task), '' when idle. */
  task = '';

  constructor(
    readonly dir: InstanceDir,
    public meta: InstanceMeta,
    private readonly env: VmEnvironment,
  ) {}

  get uuid(): string {
    return this.meta.uuid;
  }

  /** Runs `fn` after every operation queued before it on this instance. */
  serialize<T>(task: string, fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(async () => {
      this.task = task;
      try {
        return await fn();
      } finally {
        this.task = '';
      }
    });
    // The caller gets run's rejection; the queue only waits for it to end.
    // eslint-disable-next-line no-restricted-syntax -- observed by the caller
    this.lock = run.catch(() => undefined);
    return run;
  }

  alive(): boolean {
    return isVmAlive(this.meta.pid, this.meta.pidStart);
  }

  powerState(): compute.PowerState {
    switch (this.meta.state) {
      case 'active':
        return this.paused ? PowerState.POWER_STATE_PAUSED : PowerState.POWER_STATE_RUNNING;
      case 'suspended':
        return PowerState.POWER_STATE_SUSPENDED;
      case 'incoming':
        return PowerState.POWER_STATE_NOSTATE;
      case 'crashed':
        return this.lastWords === 'panic' ? PowerState.POWER_STATE_CRASHED : PowerState.POWER_STATE_SHUTDOWN;
      default:
        return PowerState.POWER_STATE_SHUTDOWN;
    }
  }

  info(): compute.InstanceInfo {
    const m = this.meta;
    return {
      instanceUuid: m.uuid,
      host: this.env.host,
      powerState: this.powerState(),
      task: this.task,
      vcpus: m.flavor.vcpus,
      ramMb: m.flavor.ramMb,
      diskGb: m.flavor.diskGb,
      pid: m.state === 'active' ? (m.pid ?? 0) : 0,
      launchedAtMs: m.state === 'active' ? m.launchedAtMs : 0,
      fault: m.fault ?? '',
      imageId: m.imageId,
    };
  }

  private save(patch: Partial<InstanceMeta>): void {
    this.meta = { ...this.meta, ...patch };
    this.dir.writeMeta(this.meta);
  }

  // ---- process life ----

  /**
   * Starts a VM process (booting, restoring the state file `incoming`, or with 'defer' waiting
   * for a live migration's stream) and connects to it. With `closedDiskSize` (the disk's virtual
   * size) a deferred process leaves the disk closed until the migration ends (shared storage).
   */
  async launch(incoming?: string, closedDiskSize?: number): Promise<void> {
    this.launching = true;
    try {
      await this.launchProcess(incoming, closedDiskSize);
    } finally {
      this.launching = false;
    }
  }

  private async launchProcess(incoming?: string, closedDiskSize?: number): Promise<void> {
    rmSync(this.dir.controlSocket, { force: true });
    this.expectingExit = false;
    this.lastWords = undefined;
    this.paused = false;
    const started: StartedVm = startVmProcess(await this.confinedCommand(), {
      kernel: this.meta.kernel,
      append: this.meta.append || undefined,
      memoryMb: this.meta.flavor.ramMb,
      disk: existsSync(this.dir.disk) ? this.dir.disk : undefined,
      diskSize: closedDiskSize,
      serialLog: this.dir.serialLog,
      controlSocket: this.dir.controlSocket,
      name: this.meta.name || this.meta.uuid,
      incoming,
      log: this.dir.processLog,
    });
    this.exitStatus = started.exited;
    this.save({
      state: incoming === 'defer' ? 'incoming' : 'active',
      fault: undefined,
      pid: started.pid,
      pidStart: started.pidStart,
      launchedAtMs: Date.now(),
    });
    try {
      const qmp = await QmpClient.connectWhenReady(this.dir.controlSocket, {
        timeoutMs: this.env.vmStartTimeoutMs,
        alive: () => this.alive(),
      });
      this.attach(qmp);
      if (incoming === 'defer') return;
      if (incoming) await this.continueAfterIncoming();
      else await this.refreshStatus();
    } catch (err) {
      this.expectingExit = true;
      await this.kill();
      const fault = `VM process failed to start: ${(err as Error).message}${lastLines(this.dir.processLog)}`;
      this.save({ state: 'crashed', fault, pid: undefined, pidStart: undefined });
      throw new Error(fault);
    }
  }

  /**
   * The command that starts this VM's process: confined, it runs as the VM's own uid (kept for
   * the instance's life on this host) in a root that shows its directories and nothing else of
   * the node's state.
   */
  private async confinedCommand(): Promise<readonly string[]> {
    const c = this.env.confinement;
    if (!c) return this.env.vmCommand;
    const who = await c.uids.allocate(this.uuid);
    if (this.meta.uid !== who.uid) this.save({ uid: who.uid });
    const dirs = [...new Set([this.dir.path, this.dir.diskDir])];
    VmJail.own(who, dirs, [this.dir.disk, this.dir.serialLog, this.dir.savedState]);
    return c.jail.wrap(this.env.vmCommand, who, dirs, [this.meta.kernel, ...backingChain(this.dir.disk)]);
  }

  /** Frees the VM's uid once it has no process and no files here (destroyed, migrated away). */
  async releaseIdentity(): Promise<void> {
    const c = this.env.confinement;
    if (c && this.meta.uid !== undefined)
      await c.uids.release(this.uuid, { uid: this.meta.uid, gid: this.meta.uid } satisfies VmIdentity);
  }

  /** Re-attaches to the VM process of a previous agent; false when it is gone. */
  async adopt(): Promise<boolean> {
    if (!this.alive()) return false;
    try {
      this.attach(await QmpClient.connect(this.dir.controlSocket, 5000));
      await this.refreshStatus();
      return true;
    } catch (err) {
      this.env.logger.warn(
        { instance: this.uuid, err: (err as Error).message },
        'cannot reach the VM process control socket',
      );
      return this.alive();
    }
  }

  private attach(qmp: QmpClient): void {
    this.qmp?.close();
    this.qmp = qmp;
    qmp.on('event', (e) => this.onEvent(e));
    qmp.on('close', () => {
      if (this.qmp === qmp) this.qmp = undefined;
      // The socket closes as the process dies; give the kernel a moment to finish the exit.
      setTimeout(() => void this.check(), 20);
    });
  }

  /** Calls `fn` with every event of the VM process from now on; returns the unsubscribe function. */
  watchEvents(fn: (e: QmpEvent) => void): () => void {
    this.eventWatchers.add(fn);
    return () => this.eventWatchers.delete(fn);
  }

  private onEvent(e: QmpEvent): void {
    for (const fn of this.eventWatchers) fn(e);
    switch (e.event) {
      case 'STOP':
        this.paused = true;
        break;
      case 'RESUME':
        this.paused = false;
        break;
      case 'SHUTDOWN':
        this.lastWords ??= 'shutdown';
        break;
      case 'GUEST_PANICKED':
        this.lastWords = 'panic';
        break;
      case 'MIGRATION':
        if (this.meta.state === 'incoming') this.incomingEvent(e.data ?? {});
        break;
      case 'MIGRATION_OWNERSHIP':
        void this.ownershipStep(e.data ?? {});
        break;
      default:
    }
    this.env.logger.debug({ instance: this.uuid, event: e.event, data: e.data }, 'VM event');
  }

  private async refreshStatus(): Promise<void> {
    const s = await this.execute<{ running?: boolean; status?: string }>('query-status');
    this.paused = s.running === false;
  }

  /** After --incoming: wait for the restore to finish, then make sure the guest runs. */
  private async continueAfterIncoming(): Promise<void> {
    const deadline = Date.now() + this.env.vmStartTimeoutMs;
    for (;;) {
      const s = await this.execute<{ running?: boolean; status?: string }>('query-status');
      if (s.running) break;
      if (s.status !== 'inmigrate') {
        await this.execute('cont');
        break;
      }
      if (Date.now() > deadline) throw new Error('restoring the saved state took too long');
      await sleep(50);
    }
    this.paused = false;
  }

  /** Does the step the VM process asks for and answers it: the VM process waits for the answer. */
  private async ownershipStep(data: Record<string, unknown>): Promise<void> {
    await this.execute('migrate-ownership', await ownershipAnswer(this.ownership, data)).catch(
      suppressed(this.env.logger, 'managed-vm', 'answer an ownership request', { instance: this.uuid }),
    );
  }

  private incomingEvent(data: Record<string, unknown>): void {
    if (MIGRATION_ENDS.has(data.status as string)) this.ownership = undefined;
    if (data.status === 'completed') {
      this.save({ state: 'active', migrationId: undefined, sourceDisk: undefined, launchedAtMs: Date.now() });
      this.env.onIncomingSettled(this, true);
    } else if (data.status === 'failed' || data.status === 'cancelled') {
      this.env.onIncomingSettled(
        this,
        false,
        typeof data.error === 'string' ? data.error : `migration ${String(data.status)}`,
      );
    }
  }

  /**
   * Looks whether the process still lives (called on the control socket closing and
   * periodically). A death nobody asked for becomes an observed change.
   */
  async check(): Promise<void> {
    if (this.meta.state === 'incoming' && !this.launching && !this.alive()) {
      this.env.onIncomingSettled(this, false, 'the VM process waiting for the migration ended');
      return;
    }
    if (this.meta.state !== 'active' || this.launching || this.migrating) return;
    if (this.alive()) {
      if (!this.qmp && !this.reconnecting) void this.reconnect();
      return;
    }
    const pidAtDeath = this.meta.pid;
    const exit = await this.exitInfo();
    if (this.meta.state !== 'active' || this.meta.pid !== pidAtDeath) return; // handled meanwhile
    if (this.expectingExit) return; // the operation that asked for it records the outcome
    this.qmp?.close();
    this.qmp = undefined;
    let change: ObservedChange;
    if (this.lastWords === 'panic') change = { kind: 'crashed', fault: 'The guest kernel panicked', panicked: true };
    else if (this.lastWords === 'shutdown' || exit?.code === 0) change = { kind: 'shutoff' };
    else change = { kind: 'crashed', fault: `VM process exited unexpectedly (${describeExit(exit)})` };
    this.save({
      state: change.kind === 'shutoff' ? 'shutoff' : 'crashed',
      fault: change.kind === 'crashed' ? change.fault : undefined,
      pid: undefined,
      pidStart: undefined,
      launchedAtMs: 0,
    });
    this.env.logger.warn({ instance: this.uuid, pid: pidAtDeath, change }, 'VM process ended');
    this.env.onObserved(this, change);
  }

  private async reconnect(): Promise<void> {
    this.reconnecting = true;
    try {
      const qmp = await QmpClient.connect(this.dir.controlSocket, 2000);
      if (this.qmp && !this.qmp.closed) {
        qmp.close(); // an operation connected meanwhile
        return;
      }
      this.attach(qmp);
      await this.refreshStatus();
    } catch {
      // tried again on the next check
    } finally {
      this.reconnecting = false;
    }
  }

  private async exitInfo(): Promise<Exit | undefined> {
    if (!this.exitStatus) return undefined;
    // The exit status arrives when the event loop reaps the child, which a busy node may delay.
    return Promise.race([this.exitStatus, sleep(1000).then(() => undefined)]);
  }

  private async execute<T>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (!this.qmp || this.qmp.closed) {
      if (!this.alive()) throw new Error(`instance ${this.uuid} has no VM process`);
      this.attach(await QmpClient.connect(this.dir.controlSocket, 5000));
    }
    return (this.qmp as QmpClient).execute<T>(command, args);
  }

  private async waitExit(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.alive()) {
      if (Date.now() > deadline) return false;
      await sleep(EXIT_POLL_MS);
    }
    return true;
  }

  /** SIGKILL to the process (group) and wait until it is gone. */
  private async kill(): Promise<void> {
    const pid = this.meta.pid;
    if (!pid || !this.alive()) return;
    if (!signalVm(-pid, 'SIGKILL')) signalVm(pid, 'SIGKILL');
    await this.waitExit(10_000);
  }

  /** Ends the process the agent's way: quit (the VM flushes its disk), then SIGKILL. */
  private async terminate(): Promise<void> {
    this.expectingExit = true;
    if (!this.alive()) return;
    try {
      await this.execute('quit');
    } catch {
      // the process may close the connection before answering
    }
    if (!(await this.waitExit(5000))) await this.kill();
    this.qmp?.close();
    this.qmp = undefined;
  }

  // ---- operations (callers serialize them) ----

  async start(): Promise<void> {
    if (this.meta.state === 'active' && this.alive()) return;
    if (this.meta.state === 'suspended') return this.resume();
    await this.launch();
  }

  async stop(cleanTimeoutS = 0): Promise<void> {
    if (this.meta.state !== 'active') {
      if (this.meta.state === 'crashed') this.save({ state: 'shutoff' });
      return;
    }
    this.expectingExit = true;
    const timeoutS = cleanTimeoutS || this.env.cleanShutdownTimeoutS;
    if (timeoutS > 0 && this.alive()) {
      try {
        await this.execute('system_powerdown');
      } catch {
        // no guest to ask: terminated below
      }
      await this.waitExit(timeoutS * 1000);
    }
    await this.terminate();
    this.save({ state: 'shutoff', fault: undefined, pid: undefined, pidStart: undefined, launchedAtMs: 0 });
  }

  async pause(): Promise<void> {
    this.requireRunning();
    await this.execute('stop');
    this.paused = true;
  }

  async unpause(): Promise<void> {
    this.requireRunning();
    await this.execute('cont');
    this.paused = false;
  }

  async suspend(): Promise<void> {
    this.requireRunning();
    if (!this.paused) await this.execute('stop');
    try {
      await this.execute('savevm', { path: this.dir.savedState });
    } catch (err) {
      // The save's error is the one to report; a guest left paused is logged.
      await this.execute('cont').catch(
        suppressed(this.env.logger, 'managed-vm', 'resume after a failed save', { instance: this.uuid }),
      );
      throw err;
    }
    await this.terminate();
    this.save({ state: 'suspended', pid: undefined, pidStart: undefined, launchedAtMs: 0 });
  }

  async resume(): Promise<void> {
    if (this.meta.state !== 'suspended') {
      if (this.meta.state === 'active' && this.alive()) return;
      throw new ConflictError(`instance ${this.uuid} is not suspended`);
    }
    await this.launch(this.dir.savedState);
    rmSync(this.dir.savedState, { force: true });
  }

  async reboot(hard: boolean): Promise<void> {
    if (!hard && this.meta.state === 'active' && this.alive()) {
      // Ask the guest; if it does not power off in time, reset it from the outside.
      this.expectingExit = true;
      try {
        await this.execute('system_powerdown');
      } catch {
        // answered below
      }
      if (!(await this.waitExit(this.env.cleanShutdownTimeoutS * 1000))) {
        this.expectingExit = false;
        await this.execute('system_reset');
        if (this.paused) await this.execute('cont');
        return;
      }
      await this.launch();
      return;
    }
    await this.terminate();
    rmSync(this.dir.savedState, { force: true });
    await this.launch();
  }

  // ---- live migration ----

  /**
   * Destination: starts the VM process waiting for the stream and tells it where to listen; it
   * asks for `ownership`'s commit at the commit point (see launch for closedDiskSize).
   */
  async launchIncoming(
    migrationId: string,
    args: Record<string, unknown>,
    ownership: Ownership,
    closedDiskSize?: number,
  ): Promise<void> {
    this.meta.migrationId = migrationId;
    this.ownership = ownership;
    await this.launch('defer', closedDiskSize);
    try {
      await this.execute('migrate-incoming', { ...args, ownership: true });
    } catch (err) {
      await this.destroy();
      throw err;
    }
  }

  /**
   * Source: migrates the running guest away and resolves when the migration ended. On
   * completion the VM process is ended (the guest runs at the destination). When the process
   * dies meanwhile, or asks because the destination's result was lost, `ownership` settles
   * whether the destination took the guest over.
   */
  async migrateOut(
    args: Record<string, unknown>,
    onProgress: (data: Record<string, unknown>) => void,
    ownership: Ownership,
  ): Promise<MigrationEnd> {
    this.requireRunning();
    this.migrating = true;
    this.ownership = ownership;
    let stopWatching = (): void => undefined;
    let deathPoll: NodeJS.Timeout | undefined;
    try {
      const ended = new Promise<MigrationEnd | 'died'>((resolve) => {
        const unwatch = this.watchEvents((e) => {
          const data = e.data ?? {};
          if (e.event === 'MIGRATION_PROGRESS') onProgress(data);
          else if (e.event === 'MIGRATION' && MIGRATION_ENDS.has(data.status as string))
            resolve({ status: data.status as MigrationEnd['status'], data });
        });
        deathPoll = setInterval(() => {
          if (!this.alive()) resolve('died');
        }, 200);
        stopWatching = () => {
          unwatch();
          clearInterval(deathPoll);
        };
      });
      await this.execute('migrate', { ...args, ownership: true });
      let end = await ended;
      if (end === 'died') {
        end =
          (await ownership.resolveOutcome()) === 'committed'
            ? { status: 'completed', data: {} }
            : { status: 'failed', data: { error: 'the source VM process died during the migration' } };
      }
      if (end.status === 'completed') {
        await this.terminate();
        this.save({ state: 'shutoff', pid: undefined, pidStart: undefined, launchedAtMs: 0 });
      }
      return end;
    } finally {
      stopWatching();
      this.migrating = false;
      this.ownership = undefined;
      // A death the migration did not settle is a crash like any other.
      if (this.meta.state === 'active') void this.check();
    }
  }

  /** A migration command that must not wait behind the running migration (cancel, force-complete). */
  migrationControl(
    command: 'migrate_cancel' | 'migrate-force-complete' | 'query-migrate',
  ): Promise<Record<string, unknown>> {
    return this.execute(command);
  }

  /** Ends the process for good (Destroy). */
  async destroy(): Promise<void> {
    this.expectingExit = true;
    await this.kill();
    this.qmp?.close();
    this.qmp = undefined;
  }

  /** Lets go of the process without stopping it (agent shutdown). */
  detach(): void {
    this.qmp?.removeAllListeners('close');
    this.qmp?.close();
    this.qmp = undefined;
  }

  private requireRunning(): void {
    if (this.meta.state !== 'active' || !this.alive()) throw new ConflictError(`instance ${this.uuid} is not running`);
  }
}

/**
 * The migrate-ownership arguments that answer a MIGRATION_OWNERSHIP request (its data), once
 * `ownership` did the step asked for; an error when there is no migration to do it for.
 */
export async function ownershipAnswer(
  ownership: Ownership | undefined,
  request: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const id = request.request;
  if (!ownership) return { request: id, error: 'no migration of this instance is under way here' };
  try {
    if (request.action === 'commit') {
      await ownership.commit();
      return { request: id, outcome: 'committed' };
    }
    return { request: id, outcome: await ownership.resolveOutcome() };
  } catch (err) {
    return { request: id, error: errorMessage(err) };
  }
}

function describeExit(exit: Exit | undefined): string {
  if (!exit) return 'exit status unknown';
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exit code ${exit.code}`;
}

/** The end of the VM process's own log, to say why it failed. */
function lastLines(path: string): string {
  try {
    const text = readFileSync(path, 'utf8').trim();
    return text ? `: ${text.split('\n').slice(-3).join(' | ').slice(-500)}` : '';
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
