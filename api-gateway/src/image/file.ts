// Glance v2 image data: PUT /images/{id}/file streams the body into the object store, moving the
// image queued -> saving -> active with its size, checksum and sha512 recorded (back to queued
// when the upload fails); GET streams it back. Each status step is a compare-and-set, so two
// uploads of one image cannot both run and a delete during an upload wins.
import { changeImage, type ImageRecord } from '@hypernova/cluster-state';
import { suppressed } from '@hypernova/common';
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import type { Gateway } from '../context.js';
import { ApiError, badRequest, conflict, notFound } from '../http/errors.js';
import { caller } from '../identity/auth.js';
import { enforce } from '../policy.js';
import { checkOwner, loadImage } from './images.js';

const isStream = (body: unknown): body is Readable => typeof (body as Readable | undefined)?.pipe === 'function';

export function registerImageFileRoutes(app: FastifyInstance, gw: Gateway): void {
  /** Moves the image from `from` to the record `to` makes; false when it no longer exists. */
  async function transition(
    id: string,
    from: ImageRecord['status'],
    to: (rec: ImageRecord) => ImageRecord,
  ): Promise<boolean> {
    const out = await changeImage(gw.redis, id, (rec) => {
      if (rec.status !== from)
        throw conflict(`Image status transition from ${rec.status} to ${to(rec).status} is not allowed`);
      return to(rec);
    });
    return out !== undefined;
  }

  app.put<{ Params: { id: string } }>('/images/:id/file', async (request, reply) => {
    const c = caller(request);
    enforce(c, 'image:upload_image');
    if (!isStream(request.body)) throw new ApiError(415, 'Content-Type must be application/octet-stream.');
    const image = await loadImage(gw, c, request.params.id);
    checkOwner(image, c, 'upload_image');
    if (!image.diskFormat || !image.containerFormat) {
      throw badRequest('Properties disk_format, container_format must be set prior to saving data.');
    }
    const id = image.id;
    if (!(await transition(id, 'queued', (rec) => ({ ...rec, status: 'saving' }))))
      throw notFound(`No image found with ID ${id}`);
    let digest;
    try {
      digest = await gw.imageData.upload(id, request.body, gw.config.imageSizeCap);
    } catch (err) {
      await transition(id, 'saving', (rec) => ({ ...rec, status: 'queued' })).catch(
        suppressed(request.log, 'image', 'requeue image', { image: id }),
      );
      if (err instanceof ApiError) throw err;
      request.log.error({ err, image: id }, 'image upload failed');
      throw new ApiError(503, 'Failed to upload image data due to an error in the image store.');
    }
    const saved = await transition(id, 'saving', (rec) => ({
      ...rec,
      status: 'active',
      size: digest.size,
      checksum: digest.md5,
      hashValue: digest.sha512,
      location: id,
    })).catch(suppressed(request.log, 'image', 'activate image', { image: id }));
    if (!saved) {
      await gw.imageData.remove(id).catch(suppressed(request.log, 'image', 'remove orphaned data', { image: id }));
      throw new ApiError(
        410,
        `Image ${id} could not be found after upload. The image may have been deleted during the upload.`,
      );
    }
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string } }>('/images/:id/file', async (request, reply) => {
    const c = caller(request);
    enforce(c, 'image:download_image');
    const image = await loadImage(gw, c, request.params.id);
    // No data yet: Glance answers 204.
    if (image.status !== 'active' || !image.location) return reply.code(204).send();
    const stream = await gw.imageData.download(image.location);
    if (!stream) throw new ApiError(503, `The data of image ${image.id} is missing from the image store.`);
    void reply.header('Content-Type', 'application/octet-stream');
    if (image.size !== null) void reply.header('Content-Length', String(image.size));
    if (image.checksum) void reply.header('Content-MD5', image.checksum);
    return reply.send(stream);
  });
}
