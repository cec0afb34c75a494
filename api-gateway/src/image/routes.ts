// Glance v2 under /image: version discovery (public; the SDK's first call for any image command)
// and, with a project-scoped token, the image records and their data. Image data is the only
// non-JSON body the gateway takes: octet-stream bodies reach the upload route as a stream, never
// buffered, and JSON-patch bodies parse like JSON.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Gateway } from '../context.js';
import { baseUrl } from '../http/base-url.js';
import { authenticate } from '../identity/auth.js';
import { registerImageFileRoutes } from './file.js';
import { registerImageRoutes } from './images.js';
import { JSON_PATCH_V20, JSON_PATCH_V21 } from './patch.js';

/** The versions Glance 2.16 lists; clients pick the CURRENT one. */
const VERSIONS = ['2.16', '2.15', '2.9', '2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'];

export function registerImageApi(app: FastifyInstance, gw: Gateway): void {
  const versions = async (request: FastifyRequest, reply: FastifyReply) => {
    const base = baseUrl(gw.config.publicUrl, request);
    void reply.code(300);
    return {
      versions: VERSIONS.map((v, i) => ({
        id: `v${v}`,
        status: i === 0 ? 'CURRENT' : 'SUPPORTED',
        links: [{ rel: 'self', href: `${base}/image/v2/` }],
      })),
    };
  };
  app.get('/image', versions);
  app.get('/image/versions', versions);

  void app.register(
    async (v2) => {
      v2.addHook('onRequest', async (request) => {
        await authenticate(gw, request, { projectScoped: true });
      });
      v2.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));
      v2.addContentTypeParser(
        [JSON_PATCH_V21, JSON_PATCH_V20],
        { parseAs: 'string' },
        v2.getDefaultJsonParser('error', 'error'),
      );
      registerImageRoutes(v2, gw);
      registerImageFileRoutes(v2, gw);
    },
    { prefix: '/image/v2' },
  );
}
