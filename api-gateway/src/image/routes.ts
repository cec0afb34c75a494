// Glance v2 under /image, read side: version discovery (the SDK's first call for any image
// command) and image list/show over the image registry, so `openstack image list` and
// `server create --image NAME` resolve images. Create, upload, update and delete come with the
// JetStream-backed image store.
import { getImage, listImages } from '@hypernova/common';
import type { FastifyInstance } from 'fastify';
import type { Gateway } from '../context.js';
import { baseUrl } from '../http/base-url.js';
import { notFound } from '../http/errors.js';
import { limitOf, param, queryOf } from '../http/query.js';
import { isUuid } from '../http/validation.js';
import { authenticate, caller } from '../identity/auth.js';
import { visibleImage } from '../policy.js';
import { imageView } from './views.js';

export function registerImageApi(app: FastifyInstance, gw: Gateway): void {
  app.get('/image', async (request, reply) => {
    const base = baseUrl(gw.config.publicUrl, request);
    void reply.code(300);
    return { versions: [{ id: 'v2.16', status: 'CURRENT', links: [{ rel: 'self', href: `${base}/image/v2/` }] }] };
  });

  void app.register(
    async (v2) => {
      v2.addHook('onRequest', async (request) => {
        await authenticate(gw, request, { projectScoped: true });
      });

      v2.get('/images', async (request) => {
        const c = caller(request);
        const q = queryOf(request);
        const name = param(q, 'name');
        const status = param(q, 'status');
        const visibility = param(q, 'visibility');
        const all = (await listImages(gw.redis)).filter(
          (i) =>
            visibleImage(i, c) &&
            (name === undefined || i.name === name) &&
            (status === undefined || i.status === status) &&
            (visibility === undefined || i.visibility === visibility) &&
            (status !== undefined || i.status !== 'deleted'),
        );
        const limit = limitOf(q, gw.config.maxListLimit);
        const marker = param(q, 'marker');
        const start = marker === undefined ? 0 : all.findIndex((i) => i.id === marker) + 1;
        if (marker !== undefined && start === 0) throw notFound(`No image found with ID ${marker}`);
        const page = all.slice(start, start + limit);
        const more = start + limit < all.length;
        const next = new URLSearchParams({ ...(name ? { name } : {}), marker: page[page.length - 1]?.id ?? '', limit: String(limit) });
        return {
          images: page.map(imageView),
          first: '/v2/images',
          schema: '/v2/schemas/images',
          ...(more && page.length > 0 ? { next: `/v2/images?${next}` } : {}),
        };
      });

      v2.get<{ Params: { id: string } }>('/images/:id', async (request) => {
        const { id } = request.params;
        const image = isUuid(id) ? await getImage(gw.redis, id.toLowerCase()) : undefined;
        if (!image || !visibleImage(image, caller(request))) throw notFound(`No image found with ID ${id}`);
        return imageView(image);
      });
    },
    { prefix: '/image/v2' },
  );
}
