// Neutron's quotas: per-project limits on each resource (the defaults unless an admin set
// others), counted from the records on create (409 OverQuota). The count and the create are
// not one atomic step: two racing creates may both pass the last free unit, as with Neutron
// when it runs without reservations.
import { redisKeys } from '@hypernova/common';
import type { NetKind } from '@hypernova/cluster-state';
import type { Gateway } from '../context.js';
import { badRequest } from '../http/errors.js';
import { NeutronError, conflictOf } from './errors.js';
import type { Actor } from './policy.js';

/** Neutron's default quotas (neutron.conf [quotas]); -1 is unlimited. */
export const DEFAULT_QUOTAS = {
  network: 100,
  subnet: 100,
  port: 500,
  router: 10,
  floatingip: 50,
  security_group: 10,
  security_group_rule: 100,
  rbac_policy: 10,
  subnetpool: -1,
} as const;

export type QuotaResource = keyof typeof DEFAULT_QUOTAS;
export type QuotaSet = Record<QuotaResource, number>;

/** The table each counted resource lives in (rbac policies and subnet pools are not served: none in use). */
const TABLES: Partial<Record<QuotaResource, NetKind>> = {
  network: 'networks',
  subnet: 'subnets',
  port: 'ports',
  router: 'routers',
  floatingip: 'floatingips',
  security_group: 'security-groups',
  security_group_rule: 'security-group-rules',
};

const isResource = (k: string): k is QuotaResource => k in DEFAULT_QUOTAS;

export async function quotaLimits(gw: Gateway, projectId: string): Promise<QuotaSet> {
  const set = await gw.redis.hgetall(redisKeys.netQuotas(projectId));
  const limits: QuotaSet = { ...DEFAULT_QUOTAS };
  for (const [k, v] of Object.entries(set)) if (isResource(k)) limits[k] = Number(v);
  return limits;
}

async function used(gw: Gateway, projectId: string, resource: QuotaResource): Promise<number> {
  const kind = TABLES[resource];
  if (!kind) return 0;
  const table = gw.network.table(kind);
  return (await table.list()).filter((r) => r.project_id === projectId).length;
}

/** 409 OverQuota when one more `resource` would exceed the project's limit. */
export async function checkQuota(gw: Gateway, projectId: string, resource: QuotaResource): Promise<void> {
  const limit = (await quotaLimits(gw, projectId))[resource];
  if (limit >= 0 && (await used(gw, projectId, resource)) + 1 > limit)
    throw conflictOf('OverQuota', `Quota exceeded for resources: ['${resource}'].`);
}

/** Another project's quotas are the admins'. */
export function checkQuotaAccess(actor: Actor, projectId: string): void {
  if (!actor.isAdmin && projectId !== actor.projectId)
    throw new NeutronError(403, 'HTTPForbidden', 'Non-admin is not authorized to access quotas for another project');
}

/** Every resource's used, limit and reserved count (/quotas/{id}/details). */
export async function quotaDetails(gw: Gateway, projectId: string) {
  const limits = await quotaLimits(gw, projectId);
  const entries = await Promise.all(
    (Object.keys(limits) as QuotaResource[]).map(
      async (r) => [r, { used: await used(gw, projectId, r), limit: limits[r], reserved: 0 }] as const,
    ),
  );
  return Object.fromEntries(entries);
}

/** Sets limits (the schema has checked them); with check_limit, one below what is in use is refused (400) as Neutron does. */
export async function updateQuotas(
  gw: Gateway,
  projectId: string,
  changes: Partial<QuotaSet> & { check_limit?: boolean; force?: boolean },
): Promise<QuotaSet> {
  // `force` (set even below usage) is what happens without check_limit anyway.
  const limits = Object.entries(changes).filter((e): e is [QuotaResource, number] => isResource(e[0]));
  for (const [k, v] of limits) {
    const inUse = changes.check_limit === true && v >= 0 ? await used(gw, projectId, k) : 0;
    if (inUse > v)
      throw badRequest(
        `Quota limit ${v} for ${k} must be greater than or equal to already used and reserved ${inUse}.`,
      );
  }
  if (limits.length > 0)
    await gw.redis.hset(redisKeys.netQuotas(projectId), Object.fromEntries(limits.map(([k, v]) => [k, String(v)])));
  return quotaLimits(gw, projectId);
}

export async function resetQuotas(gw: Gateway, projectId: string): Promise<void> {
  await gw.redis.del(redisKeys.netQuotas(projectId));
}

/** The projects whose quotas differ from the defaults, with their limits (GET /quotas, admins). */
export async function listQuotas(gw: Gateway): Promise<(QuotaSet & { project_id: string; tenant_id: string })[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await gw.redis.scan(cursor, 'MATCH', redisKeys.netQuotas('*'), 'COUNT', 500);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  const [pre, post] = redisKeys.netQuotas('\0').split('\0');
  return Promise.all(
    keys.map(async (key) => {
      const projectId = key.slice(pre.length, key.length - post.length);
      return { ...(await quotaLimits(gw, projectId)), project_id: projectId, tenant_id: projectId };
    }),
  );
}
