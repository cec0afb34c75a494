// The scheduler's cached view of every host (Nova's HostManager). Reading 1,000 host hashes
// per decision would cost more than the decision itself, so a timer re-reads the view from
// Redis every maxAgeMs (requests never wait for it) and claims correct it locally in between. Being stale is
// safe: the placement script re-checks everything that matters and the claim then moves on
// to the next host.
import { listHosts, type HostState, type Logger, type Redis } from '@hypernova/common';
import type { Resources } from './capacity.js';

export class HostCache {
  private list: HostState[] = [];
  private byName = new Map<string, HostState>();
  private loadedAt = -Infinity;
  private inflight?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly redis: Redis,
    private readonly maxAgeMs: number,
    private readonly logger?: Logger,
  ) {}

  /** Starts the periodic refresh. */
  start(): void {
    this.timer ??= setInterval(() => {
      this.refresh().catch((err: unknown) => this.logger?.warn({ err }, 'host refresh failed'));
    }, this.maxAgeMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The hosts; waits for a load only on first use or when the periodic refresh fell far behind. */
  async hosts(): Promise<readonly HostState[]> {
    if (performance.now() - this.loadedAt > 3 * this.maxAgeMs) await this.refresh();
    return this.list;
  }

  /** Reloads from Redis; concurrent callers share one load. */
  refresh(): Promise<void> {
    this.inflight ??= (async () => {
      try {
        const started = performance.now();
        const hosts = await listHosts(this.redis);
        this.list = hosts;
        this.byName = new Map(hosts.map((h) => [h.name, h]));
        this.loadedAt = started;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  get(name: string): HostState | undefined {
    return this.byName.get(name);
  }

  /** Records what a claim (or a failed claim) told us about a host, until the next refresh. */
  update(name: string, patch: { used?: Resources; up?: boolean; enabled?: boolean }): void {
    const h = this.byName.get(name);
    if (!h) return;
    if (patch.used) h.used = patch.used;
    if (patch.up !== undefined) h.up = patch.up;
    if (patch.enabled !== undefined) h.enabled = patch.enabled;
  }
}
