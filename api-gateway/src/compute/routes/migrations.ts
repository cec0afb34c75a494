// os-migrations (admin): the cloud's migrations, filtered by host (source or destination),
// status, instance and type, as Nova's list does at 2.1 (no pagination before 2.59).
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../../context.js';
import { param, queryOf } from '../../http/query.js';
import { caller } from '../../identity/auth.js';
import { enforce } from '../../policy.js';
import { migrationView } from '../views/migrations.js';

export function registerMigrationRoutes(app: FastifyInstance, gw: Gateway): void {
  app.get('/os-migrations', async (request) => {
    enforce(caller(request), 'os_compute_api:os-migrations:index');
    const q = queryOf(request);
    const host = param(q, 'host');
    const status = param(q, 'status');
    const instance = param(q, 'instance_uuid');
    const type = param(q, 'migration_type');
    const migrations = (await gw.migrations.list()).filter(
      (m) =>
        (host === undefined || m.sourceCompute === host || m.destCompute === host) &&
        (status === undefined || m.status === status) &&
        (instance === undefined || m.instanceUuid === instance) &&
        (type === undefined || m.migrationType === type),
    );
    // Newest first, as Nova sorts by created_at.
    return { migrations: migrations.reverse().map(migrationView) };
  });
}
