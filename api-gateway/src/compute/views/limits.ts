// Nova v2.1 limits body: the project's absolute quota limits and what it uses (network limits
// are Neutron's: shown unlimited and unused, as below 2.36 Nova still lists them).
import type { QuotaLimits, QuotaUsage } from '../quota.js';

export function limitsView(l: QuotaLimits, u: QuotaUsage, serverGroups: number) {
  return {
    limits: {
      rate: [],
      absolute: {
        maxTotalInstances: l.instances,
        maxTotalCores: l.cores,
        maxTotalRAMSize: l.ram,
        maxServerMeta: l.metadata_items,
        maxImageMeta: l.metadata_items,
        maxPersonality: l.injected_files,
        maxPersonalitySize: l.injected_file_content_bytes,
        maxTotalKeypairs: l.key_pairs,
        maxServerGroups: l.server_groups,
        maxServerGroupMembers: l.server_group_members,
        maxTotalFloatingIps: -1,
        maxSecurityGroups: -1,
        maxSecurityGroupRules: -1,
        totalInstancesUsed: u.instances,
        totalCoresUsed: u.cores,
        totalRAMUsed: u.ram,
        totalServerGroupsUsed: serverGroups,
        totalFloatingIpsUsed: 0,
        totalSecurityGroupsUsed: 0,
      },
    },
  };
}
