// os-availability-zone: the zones of the compute hosts (a host with no zone is in "nova"), each
// available while one of its hosts is up and enabled; the detail form (admin) lists the hosts
// and their nova-compute service, and Nova's "internal" zone with the control services.
import { redisKeys } from '@hypernova/common';
import { listHosts, type HostState } from '@hypernova/cluster-state';
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { caller } from '../../identity/auth.js';
import { enforce } from '../../policy.js';
import { isoMicros } from '../views/links.js';

const zoneOf = (h: HostState) => h.availabilityZone || 'nova';

export function registerAvailabilityZoneRoutes(app: FastifyInstance, gw: Gateway): void {
  async function zones(): Promise<Map<string, HostState[]>> {
    const byZone = new Map<string, HostState[]>();
    for (const h of await listHosts(gw.redis)) byZone.set(zoneOf(h), [...(byZone.get(zoneOf(h)) ?? []), h]);
    return byZone;
  }
  const available = (hosts: HostState[]) => hosts.some((h) => h.up && h.enabled);

  app.get('/os-availability-zone', async (request) => {
    enforce(caller(request), 'os_compute_api:os-availability-zone:list');
    const byZone = await zones();
    return {
      availabilityZoneInfo: [...byZone]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([zoneName, hosts]) => ({
          zoneName,
          zoneState: { available: available(hosts) },
          hosts: null,
        })),
    };
  });

  app.get('/os-availability-zone/detail', async (request) => {
    enforce(caller(request), 'os_compute_api:os-availability-zone:detail');
    const byZone = await zones();
    const all = [...byZone.values()].flat();
    const beats = all.length > 0 ? await gw.redis.mget(...all.map((h) => redisKeys.hostAlive(h.name))) : [];
    const updatedAt = new Map(
      all.map((h, i) => [h.name, beats[i] ? isoMicros(new Date(Number(beats[i])).toISOString()) : null]),
    );
    const now = isoMicros(new Date().toISOString());
    const service = (ok: boolean, active: boolean, at: string | null) => ({ available: ok, active, updated_at: at });
    return {
      availabilityZoneInfo: [
        // The control services run wherever the gateway and schedulers do: Nova's internal zone.
        {
          zoneName: 'internal',
          zoneState: { available: true },
          hosts: {
            'api-gateway': { 'nova-scheduler': service(true, true, now), 'nova-conductor': service(true, true, now) },
          },
        },
        ...[...byZone]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([zoneName, hosts]) => ({
            zoneName,
            zoneState: { available: available(hosts) },
            hosts: Object.fromEntries(
              hosts.map((h) => [h.name, { 'nova-compute': service(h.up, h.enabled, updatedAt.get(h.name) ?? null) }]),
            ),
          })),
      ],
    };
  });
}
