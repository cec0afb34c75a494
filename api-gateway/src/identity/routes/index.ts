// Keystone v3 under /identity: discovery is public, POST /auth/tokens authenticates by itself,
// everything else needs a valid token (checked before the body is even parsed).
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { authenticate } from '../auth.js';
import { registerAssignmentRoutes } from './assignments.js';
import { registerAuthRoutes } from './auth.js';
import { registerEntityRoutes } from './entities.js';
import { registerIdentityVersions } from './versions.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route authenticates by itself (or needs no token). */
    public?: boolean;
  }
}

export function registerIdentityRoutes(app: FastifyInstance, gw: Gateway): void {
  registerIdentityVersions(app, gw);
  void app.register(
    async (v3) => {
      v3.addHook('onRequest', async (request) => {
        if (!request.routeOptions.config.public) await authenticate(gw, request);
      });
      registerAuthRoutes(v3, gw);
      registerEntityRoutes(v3, gw);
      registerAssignmentRoutes(v3, gw);
    },
    { prefix: '/identity/v3' },
  );
}
