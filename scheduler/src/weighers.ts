// Nova-style weighers: each gives every host a raw value, values are normalized to 0..1 over
// the candidate hosts (Nova's weights.normalize), multiplied by the weigher's multiplier and
// summed; the highest total wins. Positive multipliers spread, negative ones stack.
import type { HostState } from '@hypernova/cluster-state';
import { freeDiskGb, freeRamMb, freeVcpus } from './capacity.js';
import type { FilterContext } from './filters.js';
import { GroupPolicy, type PlacementRequest } from './request.js';

export interface HostWeigher {
  readonly name: string;
  readonly multiplier: number;
  /** Whether the weigher has anything to say about this request (default: yes). */
  appliesTo?(req: PlacementRequest): boolean;
  weigh(host: HostState, req: PlacementRequest, ctx: FilterContext): number;
}

export interface WeigherMultipliers {
  ram: number;
  cpu: number;
  disk: number;
  softAffinity: number;
  softAntiAffinity: number;
}

/** Nova's defaults: spread on free RAM, CPU and disk; soft group policies weigh in fully. */
export const DEFAULT_MULTIPLIERS: WeigherMultipliers = {
  ram: 1,
  cpu: 1,
  disk: 1,
  softAffinity: 1,
  softAntiAffinity: 1,
};

export function createWeighers(m: WeigherMultipliers): HostWeigher[] {
  const all: HostWeigher[] = [
    { name: 'RAMWeigher', multiplier: m.ram, weigh: freeRamMb },
    { name: 'CPUWeigher', multiplier: m.cpu, weigh: freeVcpus },
    { name: 'DiskWeigher', multiplier: m.disk, weigh: freeDiskGb },
    {
      name: 'ServerGroupSoftAffinityWeigher',
      multiplier: m.softAffinity,
      appliesTo: (req) => req.group?.policy === GroupPolicy.GROUP_POLICY_SOFT_AFFINITY,
      weigh: (h, _req, ctx) => ctx.groupHosts.get(h.name) ?? 0,
    },
    {
      name: 'ServerGroupSoftAntiAffinityWeigher',
      multiplier: m.softAntiAffinity,
      appliesTo: (req) => req.group?.policy === GroupPolicy.GROUP_POLICY_SOFT_ANTI_AFFINITY,
      weigh: (h, _req, ctx) => -(ctx.groupHosts.get(h.name) ?? 0),
    },
  ];
  // A zero multiplier contributes nothing; skipping it saves a pass over every host.
  return all.filter((w) => w.multiplier !== 0);
}

/** Maps values to 0..1 by min/max; all-equal values give 0, as in Nova. */
export function normalize(values: ArrayLike<number>): Float64Array {
  return normalizeInto(values, new Float64Array(values.length), values.length);
}

function normalizeInto(values: ArrayLike<number>, out: Float64Array, n: number): Float64Array {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    if (values[i] < min) min = values[i];
    if (values[i] > max) max = values[i];
  }
  const range = max - min;
  for (let i = 0; i < n; i++) out[i] = range === 0 ? 0 : (values[i] - min) / range;
  return out;
}

// Scratch arrays reused across calls (weighHosts is synchronous), so that weighing 1,000 hosts
// per decision leaves no garbage behind.
let scratch = { totals: new Float64Array(0), raw: new Float64Array(0), norm: new Float64Array(0) };
function scratchFor(n: number) {
  if (scratch.totals.length < n) {
    const size = Math.max(n, 2 * scratch.totals.length);
    scratch = { totals: new Float64Array(size), raw: new Float64Array(size), norm: new Float64Array(size) };
  }
  return scratch;
}

export interface WeighedHost {
  host: HostState;
  weight: number;
}

/**
 * Hosts best first, at most `limit` of them; equal weights keep the input order. A decision
 * only looks at the first few, so with a limit they are picked without sorting every host.
 */
export function weighHosts(
  hosts: readonly HostState[],
  req: PlacementRequest,
  ctx: FilterContext,
  weighers: readonly HostWeigher[],
  limit = Infinity,
): WeighedHost[] {
  const n = hosts.length;
  const { totals, raw, norm } = scratchFor(n);
  totals.fill(0, 0, n);
  for (const w of weighers) {
    if (w.appliesTo && !w.appliesTo(req)) continue;
    for (let i = 0; i < n; i++) raw[i] = w.weigh(hosts[i], req, ctx);
    normalizeInto(raw, norm, n);
    for (let i = 0; i < n; i++) totals[i] += w.multiplier * norm[i];
  }
  return topIndices(totals, n, limit).map((i) => ({ host: hosts[i], weight: totals[i] }));
}

/** Indices of the `limit` largest of values[0..n), largest first, ties in index order. */
function topIndices(values: Float64Array, n: number, limit: number): number[] {
  const idx: number[] = [];
  if (limit >= n) {
    for (let i = 0; i < n; i++) idx.push(i);
    return idx.sort((a, b) => values[b] - values[a] || a - b);
  }
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (idx.length === limit && v <= values[idx[limit - 1]]) continue;
    let at = idx.length;
    while (at > 0 && values[idx[at - 1]] < v) at--;
    idx.splice(at, 0, i);
    if (idx.length > limit) idx.pop();
  }
  return idx;
}
