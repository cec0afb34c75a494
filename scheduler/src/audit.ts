// Re-adds every allocation recorded in Redis, host by host, independently of the usage
// counters the claims maintain, and reports hosts whose allocations exceed their capacity
// (over-commit) or whose counters disagree with their allocations. Tests and the benchmark
// use it as the ground truth; operators can run it as a consistency check.
import { redisKeys, type Redis } from '@hypernova/common';
import { listHosts } from '@hypernova/cluster-state';
import { capacity, type Resources } from './capacity.js';

export interface HostAudit {
  host: string;
  capacity: Resources;
  allocated: Resources;
  counters: Resources;
  allocations: number;
}

export interface PlacementAudit {
  hosts: HostAudit[];
  allocations: number;
  overCommitted: HostAudit[];
  counterMismatches: HostAudit[];
}

const over = (a: Resources, cap: Resources) => a.vcpus > cap.vcpus || a.ramMb > cap.ramMb || a.diskGb > cap.diskGb;
const same = (a: Resources, b: Resources) => a.vcpus === b.vcpus && a.ramMb === b.ramMb && a.diskGb === b.diskGb;

export async function auditPlacement(redis: Redis): Promise<PlacementAudit> {
  const hosts = await listHosts(redis);
  const members = await Promise.all(hosts.map((h) => redis.smembers(redisKeys.hostAllocations(h.name))));
  const pipeline = redis.pipeline();
  members.forEach((consumers) =>
    consumers.forEach((c) => pipeline.hmget(redisKeys.allocation(c), 'host', 'vcpus', 'ram_mb', 'disk_gb')),
  );
  const replies = (await pipeline.exec()) ?? [];
  let next = 0;
  const audits = hosts.map((h, i): HostAudit => {
    const allocated = { vcpus: 0, ramMb: 0, diskGb: 0 };
    for (let k = 0; k < members[i].length; k++) {
      const [err, row] = replies[next++] ?? [];
      if (err) throw err;
      const [host, vcpus, ramMb, diskGb] = row as (string | null)[];
      if (host !== h.name) throw new Error(`allocation ${members[i][k]} listed on ${h.name} but records host ${host}`);
      allocated.vcpus += Number(vcpus);
      allocated.ramMb += Number(ramMb);
      allocated.diskGb += Number(diskGb);
    }
    return { host: h.name, capacity: capacity(h), allocated, counters: h.used, allocations: members[i].length };
  });
  return {
    hosts: audits,
    allocations: audits.reduce((n, a) => n + a.allocations, 0),
    overCommitted: audits.filter((a) => over(a.allocated, a.capacity)),
    counterMismatches: audits.filter((a) => !same(a.allocated, a.counters)),
  };
}
