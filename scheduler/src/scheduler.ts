// The scheduling decision (Nova's FilterScheduler): filter the cached hosts, weigh the
// survivors, and claim on the best host that still fits, moving down the list when the
// placement script refuses; the chosen host comes back first, followed by unclaimed alternates.
import { ConflictError, NoValidHostError, NotFoundError, type Logger } from '@hypernova/common';
import { type HostState } from '@hypernova/cluster-state';
import { explainFilters, filterHosts, type FilterContext, type HostFilter } from './filters.js';
import type { HostCache } from './host-cache.js';
import type { SchedulerMetrics } from './metrics.js';
import type { ClaimOutcome, Placement } from './placement.js';
import type { PlacementRequest } from './request.js';
import { weighHosts, type HostWeigher } from './weighers.js';

export interface SchedulerOptions {
  filters: readonly HostFilter[];
  weighers: readonly HostWeigher[];
  /** Pick the first host at random among the best N (Nova's host_subset_size), to spread racing replicas. */
  hostSubsetSize: number;
  /** Claims tried per pass over the hosts before re-reading them from Redis. */
  maxClaimAttempts: number;
  logger?: Logger;
  metrics?: SchedulerMetrics;
}

export interface Destination {
  host: string;
  address: string;
  availabilityZone: string;
  /** Set on the claimed destination only. */
  allocationId: string;
}

/** Passes over the hosts per decision: cached view first, then freshly read ones. */
const PASSES = 2;

export class Scheduler {
  constructor(
    private readonly placement: Placement,
    private readonly cache: HostCache,
    private readonly opts: SchedulerOptions,
  ) {}

  /** The claimed destination first (claimed for `consumer`), then up to req.numAlternates alternates. */
  async selectDestinations(req: PlacementRequest, consumer = req.instanceUuid): Promise<Destination[]> {
    for (let pass = 0; pass < PASSES; pass++) {
      if (pass > 0) await this.cache.refresh();
      const ctx = await this.context(req);
      const all = await this.cache.hosts();
      const hosts = filterHosts(all, req, ctx, this.opts.filters);
      if (hosts.length === 0) {
        // A stale view may miss capacity released since; only a fresh one may say no.
        if (pass + 1 < PASSES) continue;
        const trail = explainFilters(all, req, ctx, this.opts.filters);
        this.opts.logger?.info({ instance: req.instanceUuid, trail }, 'no valid host');
        throw new NoValidHostError();
      }
      const limit = this.opts.maxClaimAttempts + req.numAlternates;
      const ranked = this.pickOrder(weighHosts(hosts, req, ctx, this.opts.weighers, limit).map((w) => w.host));
      const attempts = Math.min(ranked.length, this.opts.maxClaimAttempts);
      for (let i = 0; i < attempts; i++) {
        const host = ranked[i];
        const outcome = await this.claim(host.name, req, consumer);
        if (outcome.ok) {
          // A replayed request gets the host its allocation is on, which this replica may not know yet.
          const chosen = outcome.existing ? await this.hostNamed(outcome.host) : host;
          if (!chosen)
            throw new ConflictError(
              `consumer ${consumer} holds an allocation on ${outcome.host}, a host no longer registered`,
            );
          // Hosts before i just refused a claim: alternates come from after it.
          const alternates = ranked
            .slice(i + 1)
            .filter((h) => h.name !== chosen.name)
            .slice(0, req.numAlternates);
          return [destination(chosen, outcome.allocationId), ...alternates.map((h) => destination(h, ''))];
        }
      }
    }
    this.opts.logger?.info({ instance: req.instanceUuid }, 'no valid host: every claim was refused');
    throw new NoValidHostError();
  }

  /** Claims on one named host (retry on an alternate, live migration to a given host). */
  async claimOnHost(req: PlacementRequest, hostName: string, consumer = req.instanceUuid): Promise<Destination> {
    const outcome = await this.claim(hostName, req, consumer);
    if (outcome.ok) {
      if (outcome.host !== hostName) {
        throw new ConflictError(`consumer ${consumer} already holds an allocation on ${outcome.host}`);
      }
      const host = await this.hostNamed(hostName);
      return {
        host: hostName,
        address: host?.address ?? '',
        availabilityZone: host?.availabilityZone ?? '',
        allocationId: outcome.allocationId,
      };
    }
    if (outcome.reason === 'missing') throw new NotFoundError(`host ${hostName} is not registered`);
    throw new NoValidHostError(`Host ${hostName} cannot take the request (${outcome.reason}).`);
  }

  release(consumer: string): Promise<{ released: boolean; host?: string }> {
    return this.placement.release(consumer);
  }

  move(from: string, to: string): Promise<{ moved: boolean; host?: string }> {
    return this.placement.move(from, to);
  }

  /** A host from the cache, read afresh when the cache does not know it (registered since its last refresh). */
  private async hostNamed(name: string): Promise<HostState | undefined> {
    const cached = this.cache.get(name);
    if (cached) return cached;
    await this.cache.refresh();
    return this.cache.get(name);
  }

  private async context(req: PlacementRequest): Promise<FilterContext> {
    return { groupHosts: req.group ? await this.placement.groupHosts(req.group.uuid) : new Map() };
  }

  private pickOrder(ranked: HostState[]): HostState[] {
    const n = Math.min(this.opts.hostSubsetSize, ranked.length);
    if (n <= 1) return ranked;
    const i = Math.floor(Math.random() * n);
    return [ranked[i], ...ranked.slice(0, i), ...ranked.slice(i + 1)];
  }

  /** One placement claim, counted in the cache while in flight and corrected by its outcome. */
  private async claim(host: string, req: PlacementRequest, consumer: string): Promise<ClaimOutcome> {
    const r = { vcpus: req.vcpus, ramMb: req.ramMb, diskGb: req.diskGb };
    this.cache.reserve(host, r);
    let outcome: ClaimOutcome | undefined;
    try {
      outcome = await this.placement.claim(host, req, consumer);
      return outcome;
    } finally {
      if (!outcome || outcome.ok) {
        // A replayed claim added nothing in Redis; only a fresh one has its usage to learn from.
        this.cache.settle(host, r, { used: outcome && !outcome.existing ? outcome.used : undefined });
      } else {
        this.opts.metrics?.claimFailures.inc({ reason: outcome.reason });
        this.cache.settle(host, r, {
          used: outcome.used,
          up: outcome.reason === 'down' ? false : undefined,
          enabled: outcome.reason === 'disabled' ? false : undefined,
        });
      }
    }
  }
}

function destination(h: HostState, allocationId: string): Destination {
  return { host: h.name, address: h.address, availabilityZone: h.availabilityZone, allocationId };
}
