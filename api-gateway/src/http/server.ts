// The fastify server: request ids, the API a path belongs to (its error format), compute
// microversions, body parsing limits, error bodies, /metrics, and the route modules.
import { randomUUID } from 'node:crypto';
import { Counter, Histogram } from '@hypernova/common';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { registerComputeRoutes } from '../compute/routes/index.js';
import { Microversion, negotiate, versionHeaders } from '../compute/microversion.js';
import type { Gateway } from '../context.js';
import { registerIdentityRoutes } from '../identity/routes/index.js';
import type { Caller } from '../policy.js';
import { registerImageApi } from '../image/routes.js';
import { glanceErrorBody } from '../image/views.js';
import { neutronErrorBody } from '../network/errors.js';
import { registerNetworkApi } from '../network/routes/index.js';
import { STATUS_CODES } from 'node:http';
import { ApiError, fromServiceError, keystoneErrorBody, novaFaultBody } from './errors.js';
import { validationMessage } from './validation.js';

export type Api = 'identity' | 'compute' | 'image' | 'network' | 'other';

declare module 'fastify' {
  interface FastifyRequest {
    api: Api;
    /** Set on /compute/v2.1 requests. */
    microversion: Microversion;
    /** Set by the authenticating hooks of the identity and compute routes. */
    caller: Caller | null;
  }
}

function apiOf(url: string): Api {
  if (url === '/identity' || url.startsWith('/identity/') || url.startsWith('/identity?')) return 'identity';
  if (url === '/compute' || url.startsWith('/compute/') || url.startsWith('/compute?')) return 'compute';
  if (url === '/image' || url.startsWith('/image/') || url.startsWith('/image?')) return 'image';
  if (url === '/networking' || url.startsWith('/networking/') || url.startsWith('/networking?')) return 'network';
  return 'other';
}

const isVersioned = (url: string) => /^\/compute\/v2\.1(\/|\?|$)/.test(url);

/** Maps anything thrown (ours, typed service errors, fastify's) to an ApiError. */
function toApiError(err: unknown, request: FastifyRequest): ApiError {
  const known = fromServiceError(err);
  if (known) return known;
  const fe = err as Partial<FastifyError>;
  if (fe.validation) return new ApiError(400, validationMessage(fe.validation, request.body));
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'Unsupported Content-Type');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'Request is too large.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'Malformed request body');
  }
  if (err instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
    return new ApiError(400, 'Malformed request body');
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return new ApiError(status, fe.message ?? 'Bad request');
  return new ApiError(500, 'Unexpected API Error. Please report this to the cloud operator and attach the API log.');
}

/** Each API's own error body; a bad token gets keystonemiddleware's (Keystone's) on every API. */
function errorBody(api: Api, err: ApiError): object {
  const { status, message } = err;
  if (api === 'identity' || status === 401) return keystoneErrorBody(status, message);
  if (api === 'network') return neutronErrorBody(err);
  if (api === 'image') return glanceErrorBody(status, STATUS_CODES[status] ?? 'Error', message);
  return novaFaultBody(status, message);
}

export function buildServer(gw: Gateway): FastifyInstance {
  const app = Fastify({
    loggerInstance: gw.logger as FastifyBaseLogger,
    bodyLimit: gw.config.bodyLimit,
    genReqId: () => `req-${randomUUID()}`,
    // /identity/v3 and /identity/v3/ (and every other path with or without the slash) are one route.
    routerOptions: { ignoreTrailingSlash: true },
    // Nova rejects unknown keys and wrong types instead of dropping or coercing them.
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: false,
        useDefaults: false,
        allErrors: false,
        allowUnionTypes: true,
      },
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    forceCloseConnections: true,
  });
  // Only JSON bodies: a text/plain body would otherwise reach the schemas as a string.
  app.removeContentTypeParser('text/plain');

  app.decorateRequest('api', 'other');
  app.decorateRequest('microversion', null as unknown as Microversion);
  app.decorateRequest('caller', null);

  const requests = new Counter({
    name: 'hn_api_requests_total',
    help: 'HTTP requests by API, method, route and status',
    labelNames: ['api', 'method', 'route', 'status'],
    registers: [gw.metrics],
  });
  const latency = new Histogram({
    name: 'hn_api_request_seconds',
    help: 'HTTP request latency by API and route',
    labelNames: ['api', 'route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [gw.metrics],
  });

  app.addHook('onRequest', async (request, reply) => {
    request.api = apiOf(request.url);
    reply.header('X-OpenStack-Request-ID', request.id);
    if (request.api !== 'compute') return;
    reply.header('X-Compute-Request-ID', request.id);
    if (isVersioned(request.url)) {
      request.microversion = negotiate(request.headers);
      reply.headers(versionHeaders(request.microversion));
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ api: request.api, method: request.method, route, status: reply.statusCode });
    latency.observe({ api: request.api, route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err, request, reply) => {
    const e = toApiError(err, request);
    if (e.status >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ status: e.status, message: e.message }, 'request refused');
    void reply.code(e.status).headers(e.headers).send(errorBody(request.api, e));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(request.api, new ApiError(404, 'The resource could not be found.')));
  });

  app.get('/metrics', async (_request, reply) => {
    void reply.header('content-type', gw.metrics.contentType);
    return gw.metrics.metrics();
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  registerIdentityRoutes(app, gw);
  registerComputeRoutes(app, gw);
  registerImageApi(app, gw);
  registerNetworkApi(app, gw);
  return app;
}
