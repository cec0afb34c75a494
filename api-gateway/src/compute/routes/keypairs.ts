// os-keypairs: a user's keypairs (create or import, list, show, delete). 2.2 adds the key type
// (ssh or x509) and moves create to 201 and delete to 204; 2.10 lets admins act on other users'
// keypairs (user_id in the body and the query).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../../context.js';
import { badRequest, notFound } from '../../http/errors.js';
import { param, queryOf } from '../../http/query.js';
import { caller } from '../../identity/auth.js';
import { enforce, type Caller } from '../../policy.js';
import { fingerprint, generateKeypair, type KeyType } from '../ssh-keys.js';
import { keypairCreated, keypairDetail, keypairListItem } from '../views/keypairs.js';

const createSchema = {
  type: 'object',
  required: ['keypair'],
  additionalProperties: false,
  properties: {
    keypair: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        // Nova's keypair names before 2.92: letters, digits, spaces, '_' and '-'.
        name: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9 _-]+$' },
        public_key: { type: 'string' },
        type: { type: 'string', enum: ['ssh', 'x509'] },
        user_id: { type: 'string', minLength: 1, maxLength: 255 },
      },
    },
  },
} as const;

interface CreateBody {
  keypair: { name: string; public_key?: string; type?: KeyType; user_id?: string };
}

export function registerKeypairRoutes(app: FastifyInstance, gw: Gateway): void {
  /** Whose keypairs: the caller's, or (2.10, admins) the ?user_id= / body user's. */
  function owner(request: FastifyRequest, c: Caller, requested: string | undefined, action: string): string {
    if (requested === undefined || requested === c.userId) return c.userId;
    if (!request.microversion.atLeast(10))
      throw badRequest(`Invalid input: user_id is not supported before microversion 2.10`);
    enforce(c, `os_compute_api:os-keypairs:${action}:other_user`);
    return requested;
  }

  app.post<{ Body: CreateBody }>('/os-keypairs', { schema: { body: createSchema } }, async (request, reply) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-keypairs:create');
    const mv = request.microversion;
    const b = request.body.keypair;
    for (const [key, since] of [
      ['type', 2],
      ['user_id', 10],
    ] as const) {
      if (b[key] !== undefined && !mv.atLeast(since)) {
        throw badRequest(
          `Invalid input for field/attribute keypair. Value: ${JSON.stringify(b)}. Additional properties are not allowed ('${key}' was unexpected)`,
        );
      }
    }
    if (b.name.trim() === '')
      throw badRequest('Keypair data is invalid: Keypair name must be string and between 1 and 255 characters long');
    const userId = owner(request, c, b.user_id, 'create');
    const type = b.type ?? 'ssh';
    let publicKey = b.public_key;
    let privateKey: string | undefined;
    if (publicKey === undefined) {
      if (type === 'x509') throw badRequest('Keypair data is invalid: generating x509 keypairs is not supported');
      ({ publicKey, privateKey } = generateKeypair(`Generated-by-Hypernova`));
    }
    const limits = await gw.quotas.limits(c.projectId);
    const kp = await gw.keypairs.create(
      {
        name: b.name,
        userId,
        type,
        publicKey,
        fingerprint: fingerprint(publicKey, type),
        createdAt: new Date().toISOString(),
      },
      limits.key_pairs,
    );
    void reply.code(mv.atLeast(2) ? 201 : 200);
    return keypairCreated(kp, mv, privateKey);
  });

  app.get('/os-keypairs', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-keypairs:index');
    const userId = owner(request, c, param(queryOf(request), 'user_id'), 'index');
    return { keypairs: (await gw.keypairs.list(userId)).map((k) => keypairListItem(k, request.microversion)) };
  });

  app.get<{ Params: { name: string } }>('/os-keypairs/:name', async (request) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-keypairs:show');
    const userId = owner(request, c, param(queryOf(request), 'user_id'), 'show');
    const kp = await gw.keypairs.get(userId, request.params.name);
    if (!kp) throw notFound(`Keypair ${request.params.name} not found for user ${userId}`);
    return keypairDetail(kp, request.microversion);
  });

  app.delete<{ Params: { name: string } }>('/os-keypairs/:name', async (request, reply) => {
    const c = caller(request);
    enforce(c, 'os_compute_api:os-keypairs:delete');
    const userId = owner(request, c, param(queryOf(request), 'user_id'), 'delete');
    if (!(await gw.keypairs.delete(userId, request.params.name)))
      throw notFound(`Keypair ${request.params.name} not found for user ${userId}`);
    return reply.code(request.microversion.atLeast(2) ? 204 : 202).send();
  });
}
