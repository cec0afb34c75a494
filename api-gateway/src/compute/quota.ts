// Per-project quotas (Nova's instances, cores, ram) with the configured defaults, counted from the
// project's instance records. Like Nova, a create checks before writing its records and checks
// again after (recheck_quota), so racing creates cannot both stay over the limit.
import { VmState, type InstanceRecord } from '@hypernova/common';
import { forbidden } from '../http/errors.js';
import type { Flavor } from './flavors.js';

export interface QuotaLimits {
  instances: number;
  cores: number;
  ram: number;
  metadataItems: number;
}

export interface QuotaUsage {
  instances: number;
  cores: number;
  ram: number;
}

export function usageOf(instances: readonly InstanceRecord[], except: ReadonlySet<string> = new Set()): QuotaUsage {
  const usage = { instances: 0, cores: 0, ram: 0 };
  for (const i of instances) {
    if (i.vmState === VmState.DELETED || except.has(i.uuid)) continue;
    usage.instances += 1;
    usage.cores += i.flavor.vcpus;
    usage.ram += i.flavor.ramMb;
  }
  return usage;
}

/** Throws Nova's 403 "Quota exceeded for ..." when `count` more servers of `flavor` do not fit. */
export function checkQuota(limits: QuotaLimits, usage: QuotaUsage, flavor: Flavor, count: number): void {
  const want = { instances: count, cores: flavor.vcpus * count, ram: flavor.ramMb * count };
  const overs = (['instances', 'cores', 'ram'] as const).filter((r) => limits[r] >= 0 && usage[r] + want[r] > limits[r]);
  if (overs.length === 0) return;
  const list = (f: (r: (typeof overs)[number]) => number) => overs.map(f).join(', ');
  throw forbidden(
    `Quota exceeded for ${overs.join(', ')}: Requested ${list((r) => want[r])}, but already used ` +
      `${list((r) => usage[r])} of ${list((r) => limits[r])} ${overs.join(', ')}`,
  );
}

/** The default limits every project has (per-project overrides come with os-quota-sets). */
export function defaultLimits(c: { quotaInstances: number; quotaCores: number; quotaRamMb: number; quotaMetadataItems: number }): QuotaLimits {
  return { instances: c.quotaInstances, cores: c.quotaCores, ram: c.quotaRamMb, metadataItems: c.quotaMetadataItems };
}
