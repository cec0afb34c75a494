// Nova v2.1 quota set bodies: every resource's limit (with the network ones Nova still lists
// below 2.36), or in the detail form {in_use, limit, reserved}.
import { NETWORK_QUOTAS, QUOTA_RESOURCES, type QuotaLimits } from '../quota.js';

export function quotaSetView(limits: QuotaLimits, id?: string) {
  return { ...(id !== undefined ? { id } : {}), ...NETWORK_QUOTAS, ...limits };
}

export function quotaSetDetail(limits: QuotaLimits, inUse: Partial<QuotaLimits>, id: string) {
  const entry = (limit: number, used = 0) => ({ in_use: used, limit, reserved: 0 });
  return {
    id,
    ...Object.fromEntries(Object.entries(NETWORK_QUOTAS).map(([k, v]) => [k, entry(v)])),
    ...Object.fromEntries(QUOTA_RESOURCES.map((r) => [r, entry(limits[r], inUse[r])])),
  };
}
