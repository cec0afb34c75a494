// query-stats: instruction throughput sampled once a second (so MIPS means "lately", whoever
// asks and however often), plus what the host sees of the process.
import type { VmStats } from './protocol.js';

const INTERVAL_MS = 1000;

export interface StatsSource {
  instret(): number;
  guestMemoryBytes: number;
  dirtyLogActive(): boolean;
  dirtyPagesTotal(): number;
}

export class StatsSampler {
  private readonly started = performance.now();
  private last = { at: performance.now(), instret: 0 };
  private mips = 0;
  private intervalMs = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly src: StatsSource) {
    this.last.instret = src.instret();
    this.timer = setInterval(() => this.sample(), INTERVAL_MS);
    this.timer.unref();
  }

  private sample(): void {
    const now = performance.now();
    const instret = this.src.instret();
    const delta = instret - this.last.instret;
    this.intervalMs = now - this.last.at;
    this.mips = delta >= 0 && this.intervalMs > 0 ? delta / this.intervalMs / 1000 : 0;
    this.last = { at: now, instret };
  }

  /** instret jumped (a restore): the current interval starts again from here. */
  rebase(): void {
    this.last = { at: performance.now(), instret: this.src.instret() };
  }

  read(): VmStats {
    const cpu = process.cpuUsage();
    return {
      instructions: this.src.instret(),
      mips: this.mips,
      mips_interval_ms: Math.round(this.intervalMs),
      rss_bytes: process.memoryUsage.rss(),
      cpu_user_us: cpu.user,
      cpu_system_us: cpu.system,
      guest_memory_bytes: this.src.guestMemoryBytes,
      dirty_log_active: this.src.dirtyLogActive(),
      dirty_pages_total: this.src.dirtyPagesTotal(),
      uptime_ms: Math.round(performance.now() - this.started),
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
