// Capacity arithmetic shared by the filters, weighers and host cache, identical to the
// placement Lua script's: like Nova's placement, capacity is floor(total * allocation_ratio).
// It runs for every host on every decision, so it allocates nothing on that path.
import type { HostState } from '@hypernova/cluster-state';

export interface Resources {
  vcpus: number;
  ramMb: number;
  diskGb: number;
}

// A host's totals and ratios never change on a HostState (a refresh brings new objects), so
// its capacity is computed once and kept on the object itself (a WeakMap costs more than
// the filters it serves).
const CAPACITY = Symbol('capacity');
type WithCapacity = HostState & { [CAPACITY]?: Resources };

export function capacity(host: HostState): Resources {
  return ((host as WithCapacity)[CAPACITY] ??= {
    vcpus: Math.floor(host.vcpus * host.cpuAllocationRatio),
    ramMb: Math.floor(host.ramMb * host.ramAllocationRatio),
    diskGb: Math.floor(host.diskGb * host.diskAllocationRatio),
  });
}

/** What is left on the host (negative when an operator lowered a ratio below the usage). */
export const freeVcpus = (h: HostState): number => capacity(h).vcpus - h.used.vcpus;
export const freeRamMb = (h: HostState): number => capacity(h).ramMb - h.used.ramMb;
export const freeDiskGb = (h: HostState): number => capacity(h).diskGb - h.used.diskGb;

export const addResources = (a: Resources, b: Resources, sign = 1): Resources => ({
  vcpus: a.vcpus + sign * b.vcpus,
  ramMb: a.ramMb + sign * b.ramMb,
  diskGb: a.diskGb + sign * b.diskGb,
});
