// Capacity arithmetic shared by the filters and the host cache, identical to the placement Lua
// script's: like Nova's placement, capacity is floor(total * allocation_ratio).
import type { HostState } from '@hypernova/common';

export interface Resources {
  vcpus: number;
  ramMb: number;
  diskGb: number;
}

export function capacity(host: HostState): Resources {
  return {
    vcpus: Math.floor(host.vcpus * host.cpuAllocationRatio),
    ramMb: Math.floor(host.ramMb * host.ramAllocationRatio),
    diskGb: Math.floor(host.diskGb * host.diskAllocationRatio),
  };
}

/** What is left on the host (may be negative when an operator lowered a ratio). */
export function free(host: HostState): Resources {
  const cap = capacity(host);
  return { vcpus: cap.vcpus - host.used.vcpus, ramMb: cap.ramMb - host.used.ramMb, diskGb: cap.diskGb - host.used.diskGb };
}
