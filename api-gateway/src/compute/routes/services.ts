// os-services (admin): a nova-compute service per registered host, up while its heartbeat key
// lives, and enable/disable as microversion 2.1 spells them (PUT /os-services/{action}).
import { getHost, listHosts, redisKeys, setHostEnabled } from '@hypernova/common';
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { badRequest, notFound } from '../../http/errors.js';
import { param, queryOf } from '../../http/query.js';
import { caller } from '../../identity/auth.js';
import { enforce } from '../../policy.js';
import { serviceView } from '../views/hypervisors.js';

const updateSchema = {
  type: 'object',
  required: ['host', 'binary'],
  additionalProperties: false,
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 255 },
    binary: { type: 'string', minLength: 1, maxLength: 255 },
    disabled_reason: { type: 'string', minLength: 1, maxLength: 255 },
  },
} as const;

export function registerServiceRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get('/os-services', async (request) => {
    enforce(caller(request), 'os_compute_api:os-services:list');
    const q = queryOf(request);
    const host = param(q, 'host');
    const binary = param(q, 'binary');
    if (binary !== undefined && binary !== 'nova-compute') return { services: [] };
    const hosts = (await listHosts(gw.redis)).filter((h) => host === undefined || h.name === host);
    const ids = await gw.hostIds.ids(hosts.map((h) => h.name));
    const beats = hosts.length > 0 ? await gw.redis.mget(...hosts.map((h) => redisKeys.hostAlive(h.name))) : [];
    return {
      services: hosts
        .map((h, i) => serviceView(h, ids.get(h.name) as number, beats[i] ? Number(beats[i]) : undefined))
        .sort((a, b) => a.id - b.id),
    };
  });

  app.put<{ Params: { action: string }; Body: { host: string; binary: string; disabled_reason?: string } }>(
    '/os-services/:action',
    { schema: { body: updateSchema } },
    async (request) => {
      enforce(caller(request), 'os_compute_api:os-services:update');
      const { action } = request.params;
      const { host, binary, disabled_reason: reason } = request.body;
      if (!['enable', 'disable', 'disable-log-reason'].includes(action)) throw notFound('Unknown action');
      if (binary !== 'nova-compute' || !(await getHost(gw.redis, host))) {
        throw notFound(`Service ${binary} on host ${host} could not be found.`);
      }
      if (action === 'disable-log-reason' && !reason) throw badRequest('Missing disabled reason field');
      const enabled = action === 'enable';
      await setHostEnabled(gw.redis, host, enabled, reason ?? '');
      return {
        service: { host, binary, status: enabled ? 'enabled' : 'disabled', ...(action === 'disable-log-reason' ? { disabled_reason: reason } : {}) },
      };
    },
  );
}
