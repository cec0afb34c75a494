// Nova v2.1 under /compute: version documents are public; everything under /compute/v2.1 needs a
// project-scoped token, checked before the body is parsed.
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { authenticate } from '../../identity/auth.js';
import { registerAvailabilityZoneRoutes } from './availability-zones.js';
import { registerFlavorRoutes } from './flavors.js';
import { registerHypervisorRoutes } from './hypervisors.js';
import { registerImageRoutes } from './images.js';
import { registerInstanceActionRoutes } from './instance-actions.js';
import { registerKeypairRoutes } from './keypairs.js';
import { registerLimitRoutes } from './limits.js';
import { registerMigrationRoutes } from './migrations.js';
import { registerQuotaSetRoutes } from './quota-sets.js';
import { registerServerActionRoutes } from './server-actions.js';
import { registerServerGroupRoutes } from './server-groups.js';
import { registerServerRoutes } from './servers.js';
import { registerServiceRoutes } from './services.js';
import { registerComputeVersions, registerV21Document } from './versions.js';

export function registerComputeRoutes(app: FastifyInstance, gw: Gateway): void {
  registerComputeVersions(app, gw);
  void app.register(
    async (v21) => {
      v21.addHook('onRequest', async (request) => {
        if (!request.routeOptions.config.public) await authenticate(gw, request, { projectScoped: true });
      });
      registerV21Document(v21, gw);
      registerServerRoutes(v21, gw);
      registerServerActionRoutes(v21, gw);
      registerFlavorRoutes(v21, gw);
      registerHypervisorRoutes(v21, gw);
      registerServiceRoutes(v21, gw);
      registerImageRoutes(v21, gw);
      registerLimitRoutes(v21, gw);
      registerServerGroupRoutes(v21, gw);
      registerInstanceActionRoutes(v21, gw);
      registerKeypairRoutes(v21, gw);
      registerQuotaSetRoutes(v21, gw);
      registerAvailabilityZoneRoutes(v21, gw);
      registerMigrationRoutes(v21, gw);
    },
    { prefix: '/compute/v2.1' },
  );
}
