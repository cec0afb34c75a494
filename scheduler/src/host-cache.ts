// The scheduler's cached view of every host (Nova's HostManager). Reading 1,000 host hashes
// per decision would cost more than the decision itself, so a timer re-reads the view from
// Redis every maxAgeMs (requests never wait for it) and claims correct it in between. A
// re-read fetches only each host's status (usage, enabled, up, record version) and the whole
// record of hosts that are new or were rewritten. Being
// stale is safe: the placement script re-checks everything that matters and a refused claim
// moves on to the next host. Claims in flight are counted as used (reserve/settle), so that
// concurrent requests in one replica spread instead of all racing for the same best host.
import { type Logger, type Redis } from '@hypernova/common';
import { readHostStatuses, readHosts, type HostState } from '@hypernova/cluster-state';
import { addResources, type Resources } from './capacity.js';

export class HostCache {
  private list: HostState[] = [];
  private byName = new Map<string, HostState>();
  /** Resources of this replica's claims in flight, per host. */
  private readonly pending = new Map<string, Resources>();
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
        const statuses = await readHostStatuses(this.redis);
        const names = [...statuses.keys()].sort();
        const known = new Map<string, HostState>();
        const changed: string[] = [];
        names.forEach((name) => {
          const status = statuses.get(name);
          const cached = this.byName.get(name);
          if (!status) return;
          if (!cached || cached.version !== status.version) {
            changed.push(name);
            return;
          }
          cached.used = status.used;
          cached.enabled = status.enabled;
          cached.up = status.up;
          known.set(name, cached);
        });
        for (const h of await readHosts(this.redis, changed)) known.set(h.name, h);
        const hosts = names.flatMap((n) => known.get(n) ?? []);
        // Claims still in flight may not be in what was read: count them, erring on the full side.
        for (const h of hosts) {
          const p = this.pending.get(h.name);
          if (p) h.used = addResources(h.used, p);
        }
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

  /** Counts a claim about to be tried on the host as used. */
  reserve(name: string, r: Resources): void {
    this.pending.set(name, addResources(this.pending.get(name) ?? { vcpus: 0, ramMb: 0, diskGb: 0 }, r));
    const h = this.byName.get(name);
    if (h) h.used = addResources(h.used, r);
  }

  /**
   * Ends a reservation with what the claim learned: the host's usage in Redis (which then
   * replaces the cached one, plus the other claims still in flight), or that it is down/disabled.
   */
  settle(name: string, r: Resources, learned: { used?: Resources; up?: boolean; enabled?: boolean }): void {
    const left = addResources(this.pending.get(name) ?? r, r, -1);
    if (left.vcpus === 0 && left.ramMb === 0 && left.diskGb === 0) this.pending.delete(name);
    else this.pending.set(name, left);
    const h = this.byName.get(name);
    if (!h) return;
    h.used = learned.used ? addResources(learned.used, left) : addResources(h.used, r, -1);
    if (learned.up !== undefined) h.up = learned.up;
    if (learned.enabled !== undefined) h.enabled = learned.enabled;
  }
}
