// Glance v2 image records: create (201, queued), list (filters, sorting, pages with "next"),
// show, update (JSON patch), delete (record and bytes), and tags. Members see public and
// community images and their project's own; only an image's owner (or an admin) changes it.
import { randomUUID } from 'node:crypto';
import { changeImage, getImage, listImages, registerImage, type ImageRecord } from '@hypernova/cluster-state';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../context.js';
import { ApiError, badRequest, forbidden, notFound } from '../http/errors.js';
import { queryOf } from '../http/query.js';
import { isUuid } from '../http/validation.js';
import { caller } from '../identity/auth.js';
import { enforce, inScope, visibleImage, type Caller } from '../policy.js';
import { imageFromCreateBody, requestedId, setAttribute } from './attributes.js';
import { filterImages, pageOfImages, sortImages } from './list.js';
import { JSON_PATCH_V20, JSON_PATCH_V21, applyPatch, parsePatch } from './patch.js';
import { imageView } from './views.js';

const noImage = (id: string) => notFound(`No image found with ID ${id}`);

/** The image if the caller may see it; 404 otherwise (Glance does not reveal others' images). */
export async function loadImage(gw: Gateway, c: Caller, id: string): Promise<ImageRecord> {
  const image = isUuid(id) ? await getImage(gw.redis, id.toLowerCase()) : undefined;
  if (!image || !visibleImage(image, c)) throw noImage(id);
  return image;
}

/** Changing an image is for its owner (or an admin): others who can see it get 403. */
export function checkOwner(image: ImageRecord, c: Caller, action: string): void {
  if (!inScope(c, image.owner)) {
    throw forbidden(`You are not authorized to complete ${action} action.`);
  }
}

/** The publicize/communitize rules for a visibility the caller asks for. */
function checkVisibility(c: Caller, visibility: unknown): void {
  if (visibility === 'public') enforce(c, 'image:publicize_image');
  if (visibility === 'community') enforce(c, 'image:communitize_image');
}

/** Applies `change` atomically to a visible image; 404 when it vanished meanwhile. */
async function change(gw: Gateway, id: string, fn: (rec: ImageRecord) => ImageRecord | null): Promise<ImageRecord> {
  const out = await changeImage(gw.redis, id, fn);
  if (!out) throw noImage(id);
  return out;
}

export function registerImageRoutes(app: FastifyInstance, gw: Gateway): void {
  app.post<{ Body: Record<string, unknown> }>(
    '/images',
    { schema: { body: { type: 'object' } } },
    async (request, reply) => {
      const c = caller(request);
      enforce(c, 'image:add_image');
      checkVisibility(c, request.body.visibility);
      const id = requestedId(request.body) ?? randomUUID();
      const now = new Date().toISOString();
      const rec = imageFromCreateBody(request.body, c, id, now);
      const stored = await registerImage(gw.redis, rec, { exclusive: true });
      void reply.code(201).header('Location', `/v2/images/${id}`);
      return imageView(stored);
    },
  );

  app.get('/images', async (request: FastifyRequest) => {
    const c = caller(request);
    enforce(c, 'image:get_images');
    const q = queryOf(request);
    const images = sortImages(filterImages(await listImages(gw.redis), q, c), q);
    const { page, next } = pageOfImages(images, q, gw.config.maxListLimit);
    return {
      images: page.map(imageView),
      first: '/v2/images',
      schema: '/v2/schemas/images',
      ...(next ? { next } : {}),
    };
  });

  app.get<{ Params: { id: string } }>('/images/:id', async (request) => {
    const c = caller(request);
    enforce(c, 'image:get_image');
    return imageView(await loadImage(gw, c, request.params.id));
  });

  app.patch<{ Params: { id: string }; Body: unknown }>('/images/:id', async (request) => {
    const c = caller(request);
    enforce(c, 'image:modify_image');
    const mediaType = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (mediaType !== JSON_PATCH_V20 && mediaType !== JSON_PATCH_V21) {
      throw new ApiError(415, `Unsupported Content-Type: use ${JSON_PATCH_V21}.`);
    }
    const changes = parsePatch(request.body, mediaType);
    for (const ch of changes) if (ch.attribute === 'visibility' && ch.op !== 'remove') checkVisibility(c, ch.value);
    const image = await loadImage(gw, c, request.params.id);
    checkOwner(image, c, 'modify_image');
    const updated = await change(gw, image.id, (rec) => applyPatch(rec, changes, c, mediaType));
    return imageView(updated);
  });

  app.delete<{ Params: { id: string } }>('/images/:id', async (request, reply) => {
    const c = caller(request);
    enforce(c, 'image:delete_image');
    const image = await loadImage(gw, c, request.params.id);
    checkOwner(image, c, 'delete_image');
    const removed = await change(gw, image.id, (rec) => {
      if (rec.protected) throw forbidden(`Image ${rec.id} is protected and cannot be deleted.`);
      return null;
    });
    // The record is gone first, so no new server can pick the image while its bytes go.
    if (removed.location) {
      await gw.imageData
        .remove(removed.location)
        .catch((err: unknown) => request.log.warn({ err, image: removed.id }, 'image data not removed'));
    }
    return reply.code(204).send();
  });

  app.put<{ Params: { id: string; tag: string } }>('/images/:id/tags/:tag', async (request, reply) => {
    const c = caller(request);
    enforce(c, 'image:modify_image');
    const image = await loadImage(gw, c, request.params.id);
    checkOwner(image, c, 'modify_image');
    const { tag } = request.params;
    if (tag.length > 255) throw badRequest('Tag too long (255 characters at most).');
    await change(gw, image.id, (rec) =>
      (rec.tags ?? []).includes(tag) ? rec : setAttribute(rec, 'tags', [...(rec.tags ?? []), tag], c),
    );
    return reply.code(204).send();
  });

  app.delete<{ Params: { id: string; tag: string } }>('/images/:id/tags/:tag', async (request, reply) => {
    const c = caller(request);
    enforce(c, 'image:modify_image');
    const image = await loadImage(gw, c, request.params.id);
    checkOwner(image, c, 'modify_image');
    const { tag } = request.params;
    await change(gw, image.id, (rec) => {
      if (!(rec.tags ?? []).includes(tag)) throw notFound(`Tag ${tag} not found.`);
      return { ...rec, tags: (rec.tags ?? []).filter((t) => t !== tag) };
    });
    return reply.code(204).send();
  });
}
