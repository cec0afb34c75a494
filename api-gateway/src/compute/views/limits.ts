// Nova v2.1 limits body: the project's absolute quota limits and what it uses.
import type { QuotaLimits, QuotaUsage } from '../quota.js';

export function limitsView(l: QuotaLimits, u: QuotaUsage, serverGroups: number) {
  return {
    limits: {
      rate: [],
      absolute: {
        maxTotalInstances: l.instances,
        maxTotalCores: l.cores,
        maxTotalRAMSize: l.ram,
        maxServerMeta: l.metadataItems,
        maxImageMeta: 128,
        maxPersonality: 5,
        maxPersonalitySize: 10240,
        maxTotalKeypairs: 100,
        maxServerGroups: 10,
        maxServerGroupMembers: 10,
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
