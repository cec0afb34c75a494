// The scheduler's cached view of every host (Nova's HostManager). Reading 1,000 host hashes
// per decision would cost more than the decision itself, so the view is refreshed from Redis
// every maxAgeMs in the background and corrected locally after each claim. Being stale is
// safe: the placement script re-checks everything that matters and the claim then moves on
// to the next host.
import { listHosts, type HostState, type Logger, type Redis } from '@hypernova/common';
import type { Resources } from './capacity.js';

export class HostCache {
  private list: HostState[] = [];
  private byName = new Map<string, HostState>();
  private loadedAt = -Infinity;
  private inflight?: Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly maxAgeMs: number,
    private readonly logger?: Logger,
  ) {}

  /** The hosts; the first call waits for a load, later ones trigger a background refresh when stale. */
  async hosts(): Promise<readonly HostState[]> {
    if (this.loadedAt === -Infinity) await this.refresh();
    else if (performance.now() - this.loadedAt > this.maxAgeMs && !this.inflight) {
      this.refresh().catch((err: unknown) => this.logger?.warn({ err }, 'host refresh failed'));
    }
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
