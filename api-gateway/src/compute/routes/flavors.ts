// /flavors: list, detail and show for everyone (public flavors; admins see all), create and
// delete for admins, and os-extra_specs (read by everyone, the SDK's `flavor list` among them;
// written by admins).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { badRequest, notFound } from '../../http/errors.js';
import { paginate, param, queryOf } from '../../http/query.js';
import { caller } from '../../identity/auth.js';
import { enforce, type Caller } from '../../policy.js';
import type { Flavor } from '../flavors.js';
import { createSchema, extraSpecsSchema, specsSchema, toBool, type CreateBody } from '../schemas/flavors.js';
import { flavorDetail, flavorSummary } from '../views/flavors.js';
import { pageLinks } from '../views/links.js';

const asStrings = (specs: Record<string, string | number | boolean>) =>
  Object.fromEntries(Object.entries(specs).map(([k, v]) => [k, String(v)]));

export function registerFlavorRoutes(app: FastifyInstance, gw: Gateway): void {
  async function find(id: string, c: Caller): Promise<Flavor> {
    const f = await gw.flavors.get(id);
    if (!f || (!f.isPublic && !c.isAdmin)) throw notFound(`Flavor ${id} could not be found.`);
    return f;
  }

  async function list(request: FastifyRequest, detail: boolean) {
    const c = caller(request);
    const q = queryOf(request);
    const minRam = Number(param(q, 'minRam') ?? 0);
    const minDisk = Number(param(q, 'minDisk') ?? 0);
    if (!Number.isFinite(minRam) || !Number.isFinite(minDisk)) throw badRequest('Invalid minRam or minDisk filter');
    // Admins choose with ?is_public=true|false|none (default true); others see public flavors only.
    const isPublic = c.isAdmin ? (param(q, 'is_public') ?? 'true').toLowerCase() : 'true';
    const all = (await gw.flavors.list()).filter(
      (f) =>
        f.ramMb >= minRam &&
        f.diskGb >= minDisk &&
        (isPublic === 'none' || f.isPublic === (isPublic !== 'false' && isPublic !== '0')),
    );
    const { page, more } = paginate(all, (f) => f.id, q, gw.config.maxListLimit);
    const base = baseUrl(gw.config.publicUrl, request);
    return {
      flavors: page.map((f) => (detail ? flavorDetail(f, base) : flavorSummary(f, base))),
      ...pageLinks('flavors', base, detail ? 'flavors/detail' : 'flavors', q, page[page.length - 1]?.id, more),
    };
  }

  app.get('/flavors', (request) => list(request, false));
  app.get('/flavors/detail', (request) => list(request, true));

  app.get<{ Params: { id: string } }>('/flavors/:id', async (request) => ({
    flavor: flavorDetail(await find(request.params.id, caller(request)), baseUrl(gw.config.publicUrl, request)),
  }));

  app.get<{ Params: { id: string } }>('/flavors/:id/os-extra_specs', async (request) => {
    enforce(caller(request), 'os_compute_api:os-flavor-extra-specs:index');
    return { extra_specs: (await find(request.params.id, caller(request))).extraSpecs };
  });

  app.get<{ Params: { id: string; key: string } }>('/flavors/:id/os-extra_specs/:key', async (request) => {
    enforce(caller(request), 'os_compute_api:os-flavor-extra-specs:show');
    const f = await find(request.params.id, caller(request));
    const value = f.extraSpecs[request.params.key];
    if (value === undefined) throw notFound(`Flavor ${f.id} has no extra specs with key ${request.params.key}.`);
    return { [request.params.key]: value };
  });

  app.post<{ Params: { id: string }; Body: { extra_specs: Record<string, string | number | boolean> } }>(
    '/flavors/:id/os-extra_specs',
    { schema: { body: extraSpecsSchema } },
    async (request) => {
      enforce(caller(request), 'os_compute_api:os-flavor-extra-specs:create');
      const specs = asStrings(request.body.extra_specs);
      if (!(await gw.flavors.setExtraSpecs(request.params.id, specs)))
        throw notFound(`Flavor ${request.params.id} could not be found.`);
      return { extra_specs: specs };
    },
  );

  app.put<{ Params: { id: string; key: string }; Body: Record<string, string | number | boolean> }>(
    '/flavors/:id/os-extra_specs/:key',
    { schema: { body: { ...specsSchema, minProperties: 1, maxProperties: 1 } } },
    async (request) => {
      enforce(caller(request), 'os_compute_api:os-flavor-extra-specs:update');
      const { id, key } = request.params;
      if (!(key in request.body)) throw badRequest('Request body and URI mismatch');
      const specs = asStrings(request.body);
      if (!(await gw.flavors.setExtraSpecs(id, specs))) throw notFound(`Flavor ${id} could not be found.`);
      return specs;
    },
  );

  app.delete<{ Params: { id: string; key: string } }>('/flavors/:id/os-extra_specs/:key', async (request, reply) => {
    enforce(caller(request), 'os_compute_api:os-flavor-extra-specs:delete');
    const { id, key } = request.params;
    if (!(await gw.flavors.get(id))) throw notFound(`Flavor ${id} could not be found.`);
    if (!(await gw.flavors.deleteExtraSpec(id, key)))
      throw notFound(`Flavor ${id} has no extra specs with key ${key}.`);
    return reply.code(200).send();
  });

  app.post<{ Body: CreateBody }>('/flavors', { schema: { body: createSchema } }, async (request) => {
    enforce(caller(request), 'os_compute_api:os-flavor-manage:create');
    const b = request.body.flavor;
    const int = (v: unknown) => (v === undefined ? 0 : Number(String(v).trim()));
    const flavor = await gw.flavors.create({
      id: typeof b.id === 'string' ? b.id : randomUUID(),
      name: b.name as string,
      vcpus: int(b.vcpus),
      ramMb: int(b.ram),
      diskGb: int(b.disk),
      ephemeralGb: int(b['OS-FLV-EXT-DATA:ephemeral']),
      swapMb: int(b.swap),
      rxtxFactor: b.rxtx_factor === undefined ? 1 : Number(b.rxtx_factor),
      isPublic: b['os-flavor-access:is_public'] === undefined ? true : toBool(b['os-flavor-access:is_public']),
      disabled: false,
      description: '',
      extraSpecs: {},
    });
    return { flavor: flavorDetail(flavor, baseUrl(gw.config.publicUrl, request)) };
  });

  app.delete<{ Params: { id: string } }>('/flavors/:id', async (request, reply) => {
    enforce(caller(request), 'os_compute_api:os-flavor-manage:delete');
    if (!(await gw.flavors.delete(request.params.id)))
      throw notFound(`Flavor ${request.params.id} could not be found.`);
    return reply.code(202).send();
  });
}
