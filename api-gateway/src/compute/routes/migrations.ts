// os-migrations (admin): the cloud's migrations, filtered by host (source or destination),
// status, instance and type, as Nova's list does (no pagination before 2.59). And from 2.22–2.24
// an instance's in-progress live migrations: list, show, force_complete, abort.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MigrationRecord } from '@hypernova/cluster-state';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { badRequest, notFound } from '../../http/errors.js';
import { param, queryOf } from '../../http/query.js';
import { caller } from '../../identity/auth.js';
import { enforce } from '../../policy.js';
import { loadServer } from '../api.js';
import { inProgress, migrationView, serverMigrationView } from '../views/migrations.js';

type Params = { id: string; mid: string };

/** A method the requested microversion does not have: Nova's 404 (VersionNotFoundForAPIMethod). */
function sinceVersion(request: FastifyRequest, minor: number): void {
  if (!request.microversion.atLeast(minor)) throw notFound('The resource could not be found.');
}

/** The server's in-progress live migration `mid`; Nova's 404 otherwise. */
async function loadMigration(
  gw: Gateway,
  request: FastifyRequest<{ Params: Params }>,
  policy: string,
): Promise<MigrationRecord> {
  const c = caller(request);
  enforce(c, policy);
  const rec = await loadServer(gw, c, request.params.id);
  const { mid } = request.params;
  const m = /^\d+$/.test(mid)
    ? (await gw.migrations.forInstance(rec.uuid)).find((x) => x.id === Number(mid))
    : undefined;
  if (!m) throw notFound(`Migration ${mid} does not exist for instance ${rec.uuid}.`);
  return m;
}

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
    const base = baseUrl(gw.config.publicUrl, request);
    return { migrations: migrations.reverse().map((m) => migrationView(m, request.microversion, base)) };
  });

  app.get<{ Params: { id: string } }>('/servers/:id/migrations', async (request) => {
    sinceVersion(request, 23);
    const c = caller(request);
    enforce(c, 'os_compute_api:servers:migrations:index');
    const rec = await loadServer(gw, c, request.params.id);
    const live = (await gw.migrations.forInstance(rec.uuid)).filter(
      (m) => m.migrationType === 'live-migration' && inProgress(m),
    );
    return { migrations: live.map(serverMigrationView) };
  });

  app.get<{ Params: Params }>('/servers/:id/migrations/:mid', async (request) => {
    sinceVersion(request, 23);
    const m = await loadMigration(gw, request, 'os_compute_api:servers:migrations:show');
    if (!inProgress(m)) throw notFound(`In-progress live migration ${m.id} is not found for server ${m.instanceUuid}.`);
    return { migration: serverMigrationView(m) };
  });

  app.post<{ Params: Params; Body: Record<string, unknown> }>(
    '/servers/:id/migrations/:mid/action',
    { schema: { body: { type: 'object', minProperties: 1, maxProperties: 1 } } },
    async (request, reply) => {
      sinceVersion(request, 22);
      const [action, arg] = Object.entries(request.body)[0]!;
      if (action !== 'force_complete') throw badRequest(`There is no such action: ${action}`);
      if (
        arg !== null &&
        !(typeof arg === 'object' && !Array.isArray(arg) && Object.keys(arg as object).length === 0)
      ) {
        throw badRequest(
          `Invalid input for field/attribute force_complete. Value: ${JSON.stringify(arg)}. Expected null or {}`,
        );
      }
      const m = await loadMigration(gw, request, 'os_compute_api:servers:migrations:force_complete');
      await gw.liveMigrations.forceComplete(m);
      return reply.code(202).send();
    },
  );

  app.delete<{ Params: Params }>('/servers/:id/migrations/:mid', async (request, reply) => {
    sinceVersion(request, 24);
    const m = await loadMigration(gw, request, 'os_compute_api:servers:migrations:delete');
    await gw.liveMigrations.abort(m);
    return reply.code(202).send();
  });
}
