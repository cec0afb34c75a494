// Request authentication for every API (keystonemiddleware's job): the X-Auth-Token header must
// name a valid token, else 401 in Keystone's format with a WWW-Authenticate pointing at Keystone.
import type { FastifyRequest } from 'fastify';
import type { Gateway } from '../context.js';
import { baseUrl } from '../http/base-url.js';
import { ApiError } from '../http/errors.js';
import { callerOf, type Caller } from '../policy.js';

export async function authenticate(
  gw: Gateway,
  request: FastifyRequest,
  opts: { projectScoped?: boolean } = {},
): Promise<Caller> {
  const header = request.headers['x-auth-token'];
  const token = await gw.tokens.validate(Array.isArray(header) ? header[0] : header);
  if (!token || (opts.projectScoped && !token.project)) {
    throw new ApiError(401, 'The request you have made requires authentication.', {
      'WWW-Authenticate': `Keystone uri="${baseUrl(gw.config.publicUrl, request)}/identity"`,
    });
  }
  request.caller = callerOf(token);
  return request.caller;
}

/** The caller an authenticating hook has set (routes run only after it). */
export function caller(request: FastifyRequest): Caller {
  if (!request.caller) throw new Error('route reached without authentication');
  return request.caller;
}
