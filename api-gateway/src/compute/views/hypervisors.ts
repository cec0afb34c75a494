// Nova v2.1 hypervisor bodies (below 2.28 cpu_info is a JSON string; below 2.53 ids are integers)
// and os-services bodies, both from the host records the compute agents register.
import type { HostState } from '@hypernova/cluster-state';
import type { Microversion } from '../microversion.js';
import { isoMicros } from './links.js';

/** Nova's integer hypervisor_version: "1.2.3" -> 1002003. */
export function versionNumber(v: string): number {
  const [a = 0, b = 0, c = 0] = v.split('.').map((p) => parseInt(p, 10) || 0);
  return a * 1_000_000 + b * 1000 + c;
}

const state = (h: HostState) => (h.up ? 'up' : 'down');
const status = (h: HostState) => (h.enabled ? 'enabled' : 'disabled');

export const hypervisorSummary = (h: HostState, id: number) => ({
  id,
  hypervisor_hostname: h.name,
  state: state(h),
  status: status(h),
});

export function hypervisorDetail(h: HostState, id: number, runningVms: number) {
  return {
    ...hypervisorSummary(h, id),
    vcpus: h.vcpus,
    memory_mb: h.ramMb,
    local_gb: h.diskGb,
    vcpus_used: h.used.vcpus,
    memory_mb_used: h.used.ramMb,
    local_gb_used: h.used.diskGb,
    free_ram_mb: h.ramMb - h.used.ramMb,
    free_disk_gb: h.diskGb - h.used.diskGb,
    disk_available_least: h.diskGb - h.used.diskGb,
    current_workload: 0,
    running_vms: runningVms,
    hypervisor_type: h.hypervisorType,
    hypervisor_version: versionNumber(h.hypervisorVersion),
    host_ip: h.address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1'),
    cpu_info: JSON.stringify({
      arch: h.architecture,
      model: h.hypervisorType,
      vendor: 'hypernova',
      topology: { sockets: 1, cores: h.vcpus, threads: 1 },
      features: [],
    }),
    service: { host: h.name, id, disabled_reason: h.disabledReason ?? null },
  };
}

/** A nova-compute service row; updatedAtMs is the host's last heartbeat; forced_down from 2.11. */
export const serviceView = (h: HostState, id: number, updatedAtMs: number | undefined, mv: Microversion) => ({
  id,
  binary: 'nova-compute',
  host: h.name,
  zone: h.availabilityZone || 'nova',
  status: status(h),
  state: state(h),
  updated_at: updatedAtMs ? isoMicros(new Date(updatedAtMs).toISOString()) : null,
  disabled_reason: h.disabledReason ?? null,
  ...(mv.atLeast(11) ? { forced_down: h.forcedDown ?? false } : {}),
});
