// Keystone version discovery: GET /identity/v3 is required by every client (the auth_url
// itself); GET /identity lists it with a 300, as Keystone does.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';

const v3 = (base: string) => ({
  id: 'v3.14',
  status: 'stable',
  updated: '2020-04-07T00:00:00Z',
  links: [{ rel: 'self', href: `${base}/identity/v3/` }],
  'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
});

export function registerIdentityVersions(app: FastifyInstance, gw: Gateway): void {
  app.get('/identity', async (request, reply) => {
    void reply.code(300);
    return { versions: { values: [v3(baseUrl(gw.config.publicUrl, request))] } };
  });
  app.get('/identity/v3', async (request) => ({ version: v3(baseUrl(gw.config.publicUrl, request)) }));
}
