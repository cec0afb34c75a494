// Nova-style host filters: each one drops the hosts that cannot take the request. They run
// on the scheduler's cached host states; the placement claim re-checks what can race
// (capacity, up/enabled, hard group policies) atomically in Redis.
import type { HostState } from '@hypernova/cluster-state';
import { freeDiskGb, freeRamMb, freeVcpus } from './capacity.js';
import { GroupPolicy, type PlacementRequest } from './request.js';

export interface FilterContext {
  /** host name -> how many members of the request's server group it already holds. */
  groupHosts: ReadonlyMap<string, number>;
}

export interface HostFilter {
  readonly name: string;
  /** False when the request cannot make this filter drop a host (skipped then: it runs per host). */
  appliesTo?(req: PlacementRequest): boolean;
  passes(host: HostState, req: PlacementRequest, ctx: FilterContext): boolean;
}

export const ComputeFilter: HostFilter = {
  name: 'ComputeFilter',
  passes: (host) => host.up && host.enabled,
};

export const IgnoreHostsFilter: HostFilter = {
  name: 'IgnoreHostsFilter',
  appliesTo: (req) => req.ignoreHosts.size > 0,
  passes: (host, req) => !req.ignoreHosts.has(host.name),
};

export const AvailabilityZoneFilter: HostFilter = {
  name: 'AvailabilityZoneFilter',
  appliesTo: (req) => req.availabilityZone !== '',
  passes: (host, req) => !req.availabilityZone || host.availabilityZone === req.availabilityZone,
};

/** Image properties: the image's architecture and hypervisor type, when set, must be the host's. */
export const ImagePropertiesFilter: HostFilter = {
  name: 'ImagePropertiesFilter',
  appliesTo: (req) => req.architecture !== '' || req.hypervisorType !== '',
  passes: (host, req) =>
    (!req.architecture || host.architecture === req.architecture) &&
    (!req.hypervisorType || host.hypervisorType === req.hypervisorType),
};

export const CoreFilter: HostFilter = {
  name: 'CoreFilter',
  passes: (host, req) => freeVcpus(host) >= req.vcpus,
};

export const RamFilter: HostFilter = {
  name: 'RamFilter',
  passes: (host, req) => freeRamMb(host) >= req.ramMb,
};

export const DiskFilter: HostFilter = {
  name: 'DiskFilter',
  passes: (host, req) => freeDiskGb(host) >= req.diskGb,
};

export const ServerGroupAntiAffinityFilter: HostFilter = {
  name: 'ServerGroupAntiAffinityFilter',
  appliesTo: (req) => req.group?.policy === GroupPolicy.GROUP_POLICY_ANTI_AFFINITY,
  passes: (host, req, ctx) =>
    req.group?.policy !== GroupPolicy.GROUP_POLICY_ANTI_AFFINITY || !ctx.groupHosts.has(host.name),
};

/** Affinity: once the group has a member, every other member goes to that member's host. */
export const ServerGroupAffinityFilter: HostFilter = {
  name: 'ServerGroupAffinityFilter',
  appliesTo: (req) => req.group?.policy === GroupPolicy.GROUP_POLICY_AFFINITY,
  passes: (host, req, ctx) =>
    req.group?.policy !== GroupPolicy.GROUP_POLICY_AFFINITY ||
    ctx.groupHosts.size === 0 ||
    ctx.groupHosts.has(host.name),
};

/** Cheap, most selective filters first. */
export const ALL_FILTERS: readonly HostFilter[] = [
  ComputeFilter,
  IgnoreHostsFilter,
  AvailabilityZoneFilter,
  ImagePropertiesFilter,
  RamFilter,
  CoreFilter,
  DiskFilter,
  ServerGroupAntiAffinityFilter,
  ServerGroupAffinityFilter,
];

/** Resolves a comma-separated list of filter names (SCHEDULER_ENABLED_FILTERS). */
export function filtersByName(names: string): HostFilter[] {
  const wanted = names
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return wanted.map((n) => {
    const f = ALL_FILTERS.find((x) => x.name === n);
    if (!f) throw new Error(`unknown filter ${n}; known: ${ALL_FILTERS.map((x) => x.name).join(', ')}`);
    return f;
  });
}

/** The hosts that pass every filter, in one pass over the hosts. */
export function filterHosts(
  hosts: readonly HostState[],
  req: PlacementRequest,
  ctx: FilterContext,
  filters: readonly HostFilter[],
): HostState[] {
  const active = filters.filter((f) => !f.appliesTo || f.appliesTo(req));
  const out: HostState[] = [];
  next: for (const h of hosts) {
    for (const f of active) if (!f.passes(h, req, ctx)) continue next;
    out.push(h);
  }
  return out;
}

/**
 * How many hosts each filter let through, applied in order (Nova's "Filter X returned N
 * hosts"), stopping at zero: said when no host is left, to tell which filter emptied the list.
 */
export function explainFilters(
  hosts: readonly HostState[],
  req: PlacementRequest,
  ctx: FilterContext,
  filters: readonly HostFilter[],
): { filter: string; remaining: number }[] {
  let remaining = hosts;
  const trail: { filter: string; remaining: number }[] = [];
  for (const f of filters) {
    remaining = remaining.filter((h) => f.passes(h, req, ctx));
    trail.push({ filter: f.name, remaining: remaining.length });
    if (remaining.length === 0) break;
  }
  return trail;
}
