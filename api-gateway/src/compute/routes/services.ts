// os-services (admin): a nova-compute service per registered host, up while its heartbeat key
// lives and it is not forced down, and enable/disable as microversion 2.1 spells them
// (PUT /os-services/{action}); 2.11 adds force-down, which the scheduler honours at once.
import { redisKeys } from '@hypernova/common';
import { getHost, listHosts, setHostEnabled, setHostForcedDown } from '@hypernova/cluster-state';
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

const forceDownSchema = {
  type: 'object',
  required: ['host', 'binary', 'forced_down'],
  additionalProperties: false,
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 255 },
    binary: { type: 'string', minLength: 1, maxLength: 255 },
    forced_down: { type: 'boolean' },
  },
} as const;

type UpdateBody = { host: string; binary: string; disabled_reason?: string; forced_down?: boolean };

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
        .map((h, i) =>
          serviceView(h, ids.get(h.name) as number, beats[i] ? Number(beats[i]) : undefined, request.microversion),
        )
        .sort((a, b) => a.id - b.id),
    };
  });

  app.put<{ Params: { action: string }; Body: UpdateBody }>(
    '/os-services/:action',
    {
      // force-down has its own body; the action decides which schema applies.
      schema: { body: { anyOf: [updateSchema, forceDownSchema] } },
    },
    async (request) => {
      enforce(caller(request), 'os_compute_api:os-services:update');
      const { action } = request.params;
      const forceDown = action === 'force-down' && request.microversion.atLeast(11);
      if (!forceDown && !['enable', 'disable', 'disable-log-reason'].includes(action)) throw notFound('Unknown action');
      const { host, binary, disabled_reason: reason, forced_down: forcedDown } = request.body;
      if (forceDown !== (forcedDown !== undefined)) {
        throw badRequest(
          `Invalid input for field/attribute forced_down. Value: ${JSON.stringify(forcedDown ?? null)}. ` +
            (forceDown
              ? "'forced_down' is a required property"
              : "Additional properties are not allowed ('forced_down' was unexpected)"),
        );
      }
      if (binary !== 'nova-compute' || !(await getHost(gw.redis, host))) {
        throw notFound(`Service ${binary} on host ${host} could not be found.`);
      }
      if (forceDown) {
        await setHostForcedDown(gw.redis, host, forcedDown as boolean);
        return { service: { host, binary, forced_down: forcedDown } };
      }
      if (action === 'disable-log-reason' && !reason) throw badRequest('Missing disabled reason field');
      const enabled = action === 'enable';
      await setHostEnabled(gw.redis, host, enabled, reason ?? '');
      return {
        service: {
          host,
          binary,
          status: enabled ? 'enabled' : 'disabled',
          ...(action === 'disable-log-reason' ? { disabled_reason: reason } : {}),
        },
      };
    },
  );
}
