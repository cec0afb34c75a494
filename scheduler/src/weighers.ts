// Nova-style weighers: each gives every host a raw value, values are normalized to 0..1 over
// the candidate hosts (Nova's weights.normalize), multiplied by the weigher's multiplier and
// summed; the highest total wins. Positive multipliers spread, negative ones stack.
import type { HostState } from '@hypernova/common';
import { free } from './capacity.js';
import type { FilterContext } from './filters.js';
import { GroupPolicy, type PlacementRequest } from './request.js';

export interface HostWeigher {
  readonly name: string;
  readonly multiplier: number;
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
export const DEFAULT_MULTIPLIERS: WeigherMultipliers = { ram: 1, cpu: 1, disk: 1, softAffinity: 1, softAntiAffinity: 1 };

export function createWeighers(m: WeigherMultipliers): HostWeigher[] {
  const all: HostWeigher[] = [
    { name: 'RAMWeigher', multiplier: m.ram, weigh: (h) => free(h).ramMb },
    { name: 'CPUWeigher', multiplier: m.cpu, weigh: (h) => free(h).vcpus },
    { name: 'DiskWeigher', multiplier: m.disk, weigh: (h) => free(h).diskGb },
    {
      name: 'ServerGroupSoftAffinityWeigher',
      multiplier: m.softAffinity,
      weigh: (h, req, ctx) =>
        req.group?.policy === GroupPolicy.GROUP_POLICY_SOFT_AFFINITY ? (ctx.groupHosts.get(h.name) ?? 0) : 0,
    },
    {
      name: 'ServerGroupSoftAntiAffinityWeigher',
      multiplier: m.softAntiAffinity,
      weigh: (h, req, ctx) =>
        req.group?.policy === GroupPolicy.GROUP_POLICY_SOFT_ANTI_AFFINITY ? -(ctx.groupHosts.get(h.name) ?? 0) : 0,
    },
  ];
  // A zero multiplier contributes nothing; skipping it saves a pass over every host.
  return all.filter((w) => w.multiplier !== 0);
}

/** Maps values to 0..1 by min/max; all-equal values give 0, as in Nova. */
export function normalize(values: readonly number[]): number[] {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  return range === 0 ? values.map(() => 0) : values.map((v) => (v - min) / range);
}

export interface WeighedHost {
  host: HostState;
  weight: number;
}

/** Hosts best first; equal weights keep the input order (stable sort). */
export function weighHosts(
  hosts: readonly HostState[],
  req: PlacementRequest,
  ctx: FilterContext,
  weighers: readonly HostWeigher[],
): WeighedHost[] {
  const totals = new Array<number>(hosts.length).fill(0);
  for (const w of weighers) {
    const norm = normalize(hosts.map((h) => w.weigh(h, req, ctx)));
    for (let i = 0; i < hosts.length; i++) totals[i] += w.multiplier * norm[i];
  }
  return hosts.map((host, i) => ({ host, weight: totals[i] })).sort((a, b) => b.weight - a.weight);
}
