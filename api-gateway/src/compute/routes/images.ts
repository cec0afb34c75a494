// Nova's read-only images proxy (below 2.36): the images of the registry the caller may see.
import { getImage, listImages } from '@hypernova/cluster-state';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../../context.js';
import { baseUrl } from '../../http/base-url.js';
import { notFound } from '../../http/errors.js';
import { paginate, param, queryOf } from '../../http/query.js';
import { isUuid } from '../../http/validation.js';
import { caller } from '../../identity/auth.js';
import { visibleImage } from '../../policy.js';
import { imageDetail, imageSummary } from '../views/images.js';
import { pageLinks } from '../views/links.js';

export function registerImageRoutes(app: FastifyInstance, gw: Gateway): void {
  async function list(request: FastifyRequest, detail: boolean) {
    const c = caller(request);
    const q = queryOf(request);
    const name = param(q, 'name');
    const status = param(q, 'status')?.toUpperCase();
    const base = baseUrl(gw.config.publicUrl, request);
    const images = (await listImages(gw.redis)).filter(
      (i) =>
        visibleImage(i, c) &&
        i.status !== 'deleted' &&
        (name === undefined || i.name === name) &&
        (status === undefined || imageDetail(i, base).status === status),
    );
    const { page, more } = paginate(images, (i) => i.id, q, gw.config.maxListLimit);
    return {
      images: page.map((i) => (detail ? imageDetail(i, base) : imageSummary(i, base))),
      ...pageLinks('images', base, detail ? 'images/detail' : 'images', q, page[page.length - 1]?.id, more),
    };
  }

  app.get('/images', (request) => list(request, false));
  app.get('/images/detail', (request) => list(request, true));

  app.get<{ Params: { id: string } }>('/images/:id', async (request) => {
    const { id } = request.params;
    const image = isUuid(id) ? await getImage(gw.redis, id.toLowerCase()) : undefined;
    if (!image || !visibleImage(image, caller(request))) throw notFound('Image not found.');
    return { image: imageDetail(image, baseUrl(gw.config.publicUrl, request)) };
  });
}
