// os-hypervisors (admin): every registered compute host with its capacity and what the
// scheduler's allocations use of it; ids are integers below 2.53.
import { redisKeys } from '@hypernova/common';
import { listHosts, type HostState } from '@hypernova/cluster-state';
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { notFound } from '../../http/errors.js';
import { paginate, queryOf } from '../../http/query.js';
import { caller } from '../../identity/auth.js';
import { enforce } from '../../policy.js';
import { hypervisorDetail, hypervisorSummary } from '../views/hypervisors.js';

export function registerHypervisorRoutes(app: FastifyInstance, gw: Gateway): void {
  async function hostsWithIds(): Promise<{ host: HostState; id: number }[]> {
    const hosts = await listHosts(gw.redis);
    const ids = await gw.hostIds.ids(hosts.map((h) => h.name));
    return hosts.map((host) => ({ host, id: ids.get(host.name) as number })).sort((a, b) => a.id - b.id);
  }

  const runningVms = (host: string) => gw.redis.scard(redisKeys.hostAllocations(host));

  app.get('/os-hypervisors', async (request) => {
    enforce(caller(request), 'os_compute_api:os-hypervisors:list');
    const { page } = paginate(await hostsWithIds(), (h) => String(h.id), queryOf(request), gw.config.maxListLimit);
    return { hypervisors: page.map(({ host, id }) => hypervisorSummary(host, id)) };
  });

  app.get('/os-hypervisors/detail', async (request) => {
    enforce(caller(request), 'os_compute_api:os-hypervisors:list-detail');
    const { page } = paginate(await hostsWithIds(), (h) => String(h.id), queryOf(request), gw.config.maxListLimit);
    return {
      hypervisors: await Promise.all(
        page.map(async ({ host, id }) => hypervisorDetail(host, id, await runningVms(host.name))),
      ),
    };
  });

  app.get('/os-hypervisors/statistics', async (request) => {
    enforce(caller(request), 'os_compute_api:os-hypervisors:statistics');
    const all = await Promise.all(
      (await hostsWithIds()).map(async ({ host, id }) => hypervisorDetail(host, id, await runningVms(host.name))),
    );
    const sum = (
      k:
        | 'vcpus'
        | 'memory_mb'
        | 'local_gb'
        | 'vcpus_used'
        | 'memory_mb_used'
        | 'local_gb_used'
        | 'free_ram_mb'
        | 'free_disk_gb'
        | 'running_vms'
        | 'disk_available_least',
    ) => all.reduce((n, h) => n + h[k], 0);
    return {
      hypervisor_statistics: {
        count: all.length,
        vcpus: sum('vcpus'),
        memory_mb: sum('memory_mb'),
        local_gb: sum('local_gb'),
        vcpus_used: sum('vcpus_used'),
        memory_mb_used: sum('memory_mb_used'),
        local_gb_used: sum('local_gb_used'),
        free_ram_mb: sum('free_ram_mb'),
        free_disk_gb: sum('free_disk_gb'),
        current_workload: 0,
        running_vms: sum('running_vms'),
        disk_available_least: sum('disk_available_least'),
      },
    };
  });

  app.get<{ Params: { id: string } }>('/os-hypervisors/:id', async (request) => {
    enforce(caller(request), 'os_compute_api:os-hypervisors:show');
    const found = (await hostsWithIds()).find((h) => String(h.id) === request.params.id);
    if (!found) throw notFound(`Hypervisor with ID ${request.params.id} could not be found.`);
    return { hypervisor: hypervisorDetail(found.host, found.id, await runningVms(found.host.name)) };
  });
}
