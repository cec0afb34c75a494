// Hosts and requests for the unit tests.
import type { HostState } from '@hypernova/cluster-state';
import { GroupPolicy, type PlacementRequest } from '../src/request.js';

export function host(name: string, over: Partial<HostState> = {}): HostState {
  return {
    name,
    address: `${name}:50061`,
    vcpus: 8,
    ramMb: 16384,
    diskGb: 100,
    cpuAllocationRatio: 1,
    ramAllocationRatio: 1,
    diskAllocationRatio: 1,
    hypervisorType: 'hypernova',
    hypervisorVersion: '0.1.0',
    architecture: 'riscv32',
    availabilityZone: 'nova',
    enabled: true,
    up: true,
    used: { vcpus: 0, ramMb: 0, diskGb: 0 },
    version: '1',
    ...over,
  };
}

export function request(over: Partial<PlacementRequest> = {}): PlacementRequest {
  return {
    instanceUuid: 'i-1',
    projectId: 'p',
    vcpus: 1,
    ramMb: 512,
    diskGb: 1,
    architecture: '',
    hypervisorType: '',
    availabilityZone: '',
    ignoreHosts: new Set(),
    numAlternates: 2,
    ...over,
  };
}

export const antiAffinity = (uuid = 'g-1'): { uuid: string; policy: GroupPolicy } => ({
  uuid,
  policy: GroupPolicy.GROUP_POLICY_ANTI_AFFINITY,
});
export const affinity = (uuid = 'g-1'): { uuid: string; policy: GroupPolicy } => ({
  uuid,
  policy: GroupPolicy.GROUP_POLICY_AFFINITY,
});
export const noGroup = { groupHosts: new Map<string, number>() };
