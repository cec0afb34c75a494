// The five calls every Neutron resource answers, in one shape: list (filters, fields, pages),
// show, create (201), update and delete (204), each a thin wrapper of the resource's api module.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { queryOf } from '../../http/query.js';
import { caller } from '../../identity/auth.js';
import { listBody, pickFields } from '../filters.js';
import type { Actor } from '../policy.js';

export interface Resource<R, C, U> {
  /** The URL path and the list body's key ("security-groups" / "security_groups"). */
  path: string;
  collection: string;
  /** The body key of one ("security_group"). */
  member: string;
  list(gw: Gateway, actor: Actor): Promise<R[]>;
  show(gw: Gateway, actor: Actor, id: string): Promise<R>;
  create(gw: Gateway, actor: Actor, body: C): Promise<R>;
  update?(gw: Gateway, actor: Actor, id: string, body: U): Promise<R>;
  delete(gw: Gateway, actor: Actor, id: string): Promise<void>;
  /** The API bodies of some records (in one go, where a view reads related records). */
  views(gw: Gateway, actor: Actor, records: R[]): Promise<object[]>;
  createSchema: object;
  updateSchema?: object;
}

export function registerResource<R extends { id: string }, C, U>(
  app: FastifyInstance,
  gw: Gateway,
  res: Resource<R, C, U>,
): void {
  const one = async (request: FastifyRequest, record: R) => {
    const [view] = await res.views(gw, caller(request), [record]);
    return { [res.member]: pickFields([view], queryOf(request))[0] };
  };
  type Params = { Params: { id: string } };

  app.get(`/${res.path}`, async (request) => {
    const actor = caller(request);
    const views = (await res.views(gw, actor, await res.list(gw, actor))) as { id: string }[];
    return listBody(
      res.collection,
      views,
      queryOf(request),
      `${baseUrl(gw.config.publicUrl, request)}/networking/v2.0/${res.path}`,
    );
  });

  app.get<Params>(`/${res.path}/:id`, async (request) =>
    one(request, await res.show(gw, caller(request), request.params.id)),
  );

  app.post<{ Body: Record<string, C> }>(
    `/${res.path}`,
    { schema: { body: res.createSchema } },
    async (request, reply) => {
      const record = await res.create(gw, caller(request), request.body[res.member]);
      void reply.code(201);
      return one(request, record);
    },
  );

  const update = res.update;
  if (update)
    app.put<Params & { Body: Record<string, U> }>(
      `/${res.path}/:id`,
      { schema: { body: res.updateSchema } },
      async (request) => one(request, await update(gw, caller(request), request.params.id, request.body[res.member])),
    );

  app.delete<Params>(`/${res.path}/:id`, async (request, reply) => {
    await res.delete(gw, caller(request), request.params.id);
    return reply.code(204).send();
  });
}
