// The `virt` board: RAM, one hart, CLINT, PLIC, UART, syscon, (virtio slots), and the loop that
// runs the hart in slices between which timers are updated and the host's event loop runs.
// A hart in WFI sleeps on a host timer until its next deadline or a device interrupt.
import { Bus } from '../bus/bus.js';
import { GuestRam } from '../bus/ram.js';
import { HostClock, VirtualClock, type Clock } from '../clock.js';
import { Priv } from '../cpu/exceptions.js';
import { Hart } from '../cpu/hart.js';
import { Mip } from '../cpu/mip.js';
import { Clint } from '../devices/clint/clint.js';
import { Htif } from '../devices/htif/htif.js';
import { Plic } from '../devices/plic/plic.js';
import { Syscon } from '../devices/syscon/syscon.js';
import { Uart } from '../devices/uart/uart.js';
import type { VirtioDevice } from '../devices/virtio/device.js';
import { createVirtioSlots, type VirtioSlot } from '../devices/virtio/slots.js';
import { Sbi } from '../firmware/sbi/sbi.js';
import { Irq, MemoryMap } from '../memory-map.js';
import { saveCpu, restoreCpu } from '../cpu/persist.js';
import { restoreSbi, saveSbi } from '../firmware/sbi/persist.js';
import { StateError, type StateSection } from '../state/section.js';
import {
  checkSnapshotRam,
  decodeDeviceState,
  decodeSnapshotHeader,
  encodeDeviceState,
  encodeSnapshot,
  loadSnapshotRam,
  type SnapshotHeader,
} from '../state/snapshot.js';
import { loadBoot } from './boot.js';
import { checkConfig, DEFAULT_CONFIG, type BootImages, type MachineConfig } from './config.js';

export type MachineExit = { kind: 'poweroff'; code: number };

export interface MachineOptions {
  config?: Partial<MachineConfig>;
  /** Serial console output (UART and SBI console), in batches. */
  console?: (bytes: Uint8Array) => void;
  /** Paravirtual devices, in virtio-mmio slot order (slot 0 first). */
  devices?: readonly (VirtioDevice | undefined)[];
  /** Called when the machine reboots (guest reset through syscon or SBI, or reset()), after the new boot. */
  onReboot?: () => void;
}

/** Instructions between timer updates; slices end on multiples of it so virtual-clock runs are deterministic. */
const CHECKPOINT = 1 << 16;
/** Host milliseconds the hart runs before the event loop gets a turn. */
const SLICE_MS = 4;
/** Throttled, the hart runs this long, then is held back for throttle/(1-throttle) of it (QEMU's 10 ms timeslice). */
const THROTTLE_RUN_MS = 10;

/** Exceptions a firmware delegates to S-mode: misaligned fetch, faults, breakpoints, U ecalls, page faults. */
const DELEGATED_EXCEPTIONS = 0xb1ff;

export class Machine {
  readonly config: MachineConfig;
  readonly ram: GuestRam;
  readonly bus: Bus;
  readonly clock: Clock;
  readonly hart: Hart;
  readonly clint: Clint;
  readonly plic: Plic;
  readonly uart: Uart;
  readonly syscon: Syscon;
  readonly sbi: Sbi | undefined;
  readonly virtio: VirtioSlot[];
  private htif: Htif | undefined;

  private exit: MachineExit | undefined;
  private rebootRequested = false;
  private paused = false;
  private throttle = 0;
  /** While throttled: when the current run phase ends and the hart is held back. */
  private runPhaseEnd = 0;
  private wakeUp: (() => void) | undefined;
  private out: number[] = [];
  private readonly consoleSink: (bytes: Uint8Array) => void;
  private readonly onReboot: (() => void) | undefined;

  constructor(
    private readonly images: BootImages,
    options: MachineOptions = {},
  ) {
    this.config = { ...DEFAULT_CONFIG, ...options.config };
    checkConfig(this.config);
    this.consoleSink = options.console ?? ((b) => process.stdout.write(b));
    this.onReboot = options.onReboot;
    this.ram = new GuestRam(MemoryMap.ram.base, this.config.memoryMiB * 1024 * 1024);
    this.bus = new Bus(this.ram);
    let hart: Hart | undefined;
    this.clock = this.config.clock === 'virtual' ? new VirtualClock(() => hart?.instret ?? 0) : new HostClock();
    this.hart = hart = new Hart(this.ram, this.bus, this.clock);
    this.hart.onWake = () => this.wake();
    this.hart.onTimeRead = () => this.updateTimers();

    this.clint = new Clint(this.clock, this.hart);
    this.plic = new Plic(this.hart);
    this.uart = new Uart(this.plic.line(Irq.uart0), (b) => this.out.push(b));
    this.syscon = new Syscon((e) => (e.kind === 'poweroff' ? this.powerOff(e.code) : this.requestReboot()));
    this.bus.map(MemoryMap.syscon.base, MemoryMap.syscon.size, this.syscon);
    this.bus.map(MemoryMap.clint.base, MemoryMap.clint.size, this.clint);
    this.bus.map(MemoryMap.plic.base, MemoryMap.plic.size, this.plic);
    this.bus.map(MemoryMap.uart0.base, MemoryMap.uart0.size, this.uart);
    this.virtio = createVirtioSlots(
      this.ram,
      (irq) => this.plic.line(irq),
      options.devices ?? [],
      this.config.virtioSlots,
    );
    for (const slot of this.virtio) this.bus.map(slot.base, slot.size, slot.mmio);

    if (images.bios === 'builtin') {
      this.sbi = new Sbi(this.hart, this.clock, {
        putchar: (b) => this.out.push(b),
        getchar: () => this.uart.takeHostInput(),
        reset: (kind, reason) => (kind === 'poweroff' ? this.powerOff(reason) : this.requestReboot()),
      });
      this.hart.ecallHandler = this.sbi.handle;
    }
    this.boot();
  }

  /** Loads the images and puts the hart at its entry point, as at power-on. */
  private boot(): void {
    const plan = loadBoot(this.ram, this.images, this.config);
    const h = this.hart;
    h.reset(plan.entry);
    [h.x[10], h.x[11], h.x[12]] = plan.args;
    if (plan.priv === Priv.Supervisor) {
      // What an SBI firmware leaves behind before entering the kernel.
      h.medeleg = DELEGATED_EXCEPTIONS;
      h.mideleg = Mip.SSIP | Mip.STIP | Mip.SEIP;
      h.mcounteren = 0xffff_ffff;
      h.setPriv(Priv.Supervisor);
    }
    // RAM was rewritten behind the write hooks' back: translated code may be stale, and a
    // dirty log under way (a migration) must count every page as written.
    h.dropTranslations();
    if (this.ram.dirtyLogActive) this.ram.noteWriteRange(0, this.ram.size);
    // The board's devices and the VMM's SBI start over too (at power-on these change nothing).
    this.sbi?.reset();
    this.clint.reset();
    this.plic.reset();
    this.uart.reset();
    for (const slot of this.virtio) slot.mmio.reset();
    this.htif = plan.htif
      ? new Htif(this.ram, plan.htif.tohost, plan.htif.fromhost, {
          exit: (code) => this.powerOff(code),
          putchar: (b) => this.out.push(b),
        })
      : undefined;
  }

  // --- snapshot ---

  /** Every device's state, the CPU first: restoring the CPU re-bases the virtual clock's instret. */
  private sections(): StateSection[] {
    const list: StateSection[] = [
      saveCpu(this.hart),
      this.clint.saveState(),
      this.plic.saveState(),
      this.uart.saveState(),
      this.syscon.saveState(),
    ];
    if (this.sbi) list.push(saveSbi(this.sbi));
    if (this.htif) list.push(this.htif.saveState());
    for (const slot of this.virtio) list.push(slot.mmio.saveState());
    return list;
  }

  /** Serialises the whole machine (call while paused, or between slices). */
  saveState(): Buffer {
    return encodeSnapshot({ config: this.config, sections: this.sections() }, this.ram);
  }

  /** CPU and device state without RAM (a live migration sends RAM page by page before it). Call while paused. */
  saveDeviceState(): Buffer {
    return encodeDeviceState({ config: this.config, sections: this.sections() });
  }

  /**
   * Applies state from saveDeviceState on top of the RAM already here (written page by page through
   * `ram.dmaWrite`). Throws StateError, leaving the devices untouched, on bad or mismatched state.
   */
  restoreDeviceState(state: Uint8Array): void {
    this.applyOrRollBack(this.matchSections(decodeDeviceState(state)));
  }

  /** Replaces the machine's state with a snapshot's. Throws StateError, leaving the machine untouched, on a bad file. */
  restoreState(snapshot: Uint8Array): void {
    const { header, ramOffset } = decodeSnapshotHeader(snapshot);
    const byName = this.matchSections(header);
    checkSnapshotRam(snapshot, ramOffset, this.ram.pages);
    // Devices first, backed by a copy of device state only; RAM, already checked, cannot fail after.
    this.applyOrRollBack(byName);
    loadSnapshotRam(snapshot, ramOffset, this.ram);
    if (this.ram.dirtyLogActive) this.ram.noteWriteRange(0, this.ram.size);
  }

  private applyOrRollBack(byName: Map<string, StateSection>): void {
    const before = new Map(this.sections().map((sec) => [sec.name, sec]));
    try {
      this.applySections(byName);
    } catch (e) {
      this.applySections(before);
      throw e;
    }
  }

  /** Checks saved state is for this machine's config and devices; returns its sections by name. */
  private matchSections(header: SnapshotHeader): Map<string, StateSection> {
    const mismatch = (Object.keys(this.config) as (keyof MachineConfig)[]).filter(
      (k) => header.config[k] !== this.config[k],
    );
    if (mismatch.length) {
      throw new StateError(
        `snapshot machine config differs: ${mismatch.map((k) => `${k} ${String(header.config[k])} vs ${String(this.config[k])}`).join(', ')}`,
      );
    }
    const byName = new Map(header.sections.map((sec) => [sec?.name, sec]));
    const mine = this.sections();
    const missing = mine.filter((sec) => !byName.has(sec.name)).map((sec) => sec.name);
    const extra = [...byName.keys()].filter((n) => !mine.some((sec) => sec.name === n));
    if (missing.length || extra.length) {
      throw new StateError(
        `snapshot devices differ: missing ${missing.join(', ') || 'none'}, unknown ${extra.join(', ') || 'none'}`,
      );
    }
    return byName as Map<string, StateSection>;
  }

  private applySections(byName: Map<string, StateSection>): void {
    const get = (n: string): StateSection => byName.get(n)!;
    restoreCpu(this.hart, get('cpu'));
    this.clint.restoreState(get(this.clint.name));
    this.plic.restoreState(get(this.plic.name));
    this.uart.restoreState(get(this.uart.name));
    this.syscon.restoreState(get(this.syscon.name));
    if (this.sbi) restoreSbi(this.sbi, get('sbi'));
    if (this.htif) this.htif.restoreState(get(this.htif.name));
    for (const slot of this.virtio) slot.mmio.restoreState(get(slot.name));
    this.updateTimers();
  }

  /** Host input for the serial console. */
  sendInput(bytes: Uint8Array): void {
    this.uart.receive(bytes);
  }

  /** Ends the VM at once, as pulling the plug (Ctrl-A X, quit). */
  powerOffNow(): void {
    this.powerOff(0);
  }

  private powerOff(code: number): void {
    this.exit ??= { kind: 'poweroff', code };
    this.hart.stop();
    this.wake();
  }

  /** Resets the machine as the reset button would (the host's request; the guest's goes through syscon or SBI). */
  reset(): void {
    this.requestReboot();
  }

  private requestReboot(): void {
    this.rebootRequested = true;
    this.hart.stop();
    this.wake();
  }

  pause(): void {
    this.paused = true;
    this.hart.stop();
  }

  resume(): void {
    this.paused = false;
    this.wake();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Holds the hart back for `fraction` (0..0.99) of host time, timers included, as QEMU's CPU
   * throttle does: live migration's auto-converge slows a guest that dirties memory too fast.
   */
  setThrottle(fraction: number): void {
    this.throttle = Math.min(0.99, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
    this.runPhaseEnd = performance.now() + THROTTLE_RUN_MS;
  }

  get throttleFraction(): number {
    return this.throttle;
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private updateTimers(): void {
    this.clint.update();
    this.sbi?.updateTimer();
  }

  private flushConsole(): void {
    if (this.out.length === 0) return;
    const bytes = Uint8Array.from(this.out);
    this.out = [];
    this.consoleSink(bytes);
  }

  /** Runs the guest until it powers off. */
  async run(): Promise<MachineExit> {
    const deterministic = this.config.clock === 'virtual';
    /** When the event loop last had a turn. */
    let yieldedAt = performance.now();
    while (!this.exit) {
      if (this.rebootRequested) {
        this.rebootRequested = false;
        this.boot();
        this.onReboot?.();
      }
      if (this.paused || this.hart.wfi) {
        this.flushConsole();
        if (await this.sleep()) yieldedAt = performance.now();
        continue;
      }
      if (this.throttle > 0 && performance.now() >= this.runPhaseEnd) {
        this.flushConsole();
        await this.holdBack();
        yieldedAt = performance.now();
        continue;
      }
      const sliceEnd = performance.now() + SLICE_MS;
      let now: number;
      do {
        const end = (Math.floor(this.hart.instret / CHECKPOINT) + 1) * CHECKPOINT;
        this.hart.run(end, deterministic);
        this.updateTimers();
        now = performance.now();
      } while (!this.exit && !this.paused && !this.rebootRequested && !this.hart.wfi && now < sliceEnd);
      this.flushConsole();
      // A hart that went to sleep goes straight to sleep(), which gives the event loop its turn
      // while it waits: no extra turn per wake-up. Unless the loop has not had one for a slice
      // (a guest whose timer is always already due would never wait).
      if (this.hart.wfi && !deterministic && !this.exit && !this.rebootRequested && now - yieldedAt < SLICE_MS)
        continue;
      await new Promise<void>((r) => setImmediate(r));
      yieldedAt = performance.now();
    }
    this.flushConsole();
    return this.exit;
  }

  /** The throttle's off phase: nothing runs, not even timer interrupts, until it ends (or pause/power-off). */
  private async holdBack(): Promise<void> {
    const ms = (THROTTLE_RUN_MS * this.throttle) / (1 - this.throttle);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeUp = undefined;
    this.runPhaseEnd = performance.now() + THROTTLE_RUN_MS;
  }

  /**
   * Waits while paused, or in WFI until the next timer deadline or a device interrupt; false when
   * it returned without waiting (the hart was already awake, or virtual time jumped ahead).
   * The host timer updates the device timers itself, so one wait is one wake-up: a timer that
   * fires a little early sleeps on without going round the run loop.
   */
  private async sleep(): Promise<boolean> {
    if (!this.paused) {
      this.updateTimers();
      if (!this.hart.wfi) return false;
    }
    if (this.config.clock === 'virtual' && !this.paused) {
      const deadline = this.nextDeadline();
      if (Number.isFinite(deadline)) {
        // Virtual time has no host to wait for: jump to the deadline.
        this.clock.resumeAt(Math.max(deadline, this.clock.now()));
        this.updateTimers();
        return false;
      }
    }
    await new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        this.wakeUp = undefined;
        resolve();
      };
      const arm = (): void => {
        const ms = this.paused ? Infinity : this.clock.msUntil(this.nextDeadline());
        timer = Number.isFinite(ms) ? setTimeout(fire, Math.max(0, Math.ceil(ms))) : undefined;
      };
      const fire = (): void => {
        timer = undefined;
        // Raising the timer interrupt wakes the hart, and onWake ends the wait (done).
        if (!this.paused) this.updateTimers();
        if (this.wakeUp === done && !this.paused && this.hart.wfi) arm();
        else done();
      };
      this.wakeUp = done;
      arm();
    });
    return true;
  }

  private nextDeadline(): number {
    return Math.min(this.clint.nextDeadline(), this.sbi?.nextDeadline() ?? Infinity);
  }
}
