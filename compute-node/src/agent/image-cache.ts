// The node's base-image cache (like Nova's _base directory): an image is pulled from the
// JetStream object store on first use, checked against its checksum and kept under its id, so
// later instances of it start without a download. Concurrent spawns of one image share one
// download; a file appears under its final name only once complete and verified.
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger, type NatsConnection } from '@hypernova/common';
import { getImageObject, openImageStore } from '@hypernova/cluster-state';
import type { AgentMetrics } from './metrics.js';

export interface CachedImageRef {
  id: string;
  location: string;
  checksum: string;
}

export class ImageCache {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    readonly dir: string,
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
    private readonly metrics: AgentMetrics,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** The cached file of `image`, downloading it first when missing. */
  fetch(image: CachedImageRef): Promise<string> {
    if (!/^[A-Za-z0-9._-]+$/.test(image.id))
      return Promise.reject(new Error(`bad image id ${JSON.stringify(image.id)}`));
    const path = join(this.dir, image.id);
    if (existsSync(path)) {
      this.metrics.imageCache.inc({ result: 'hit' });
      return Promise.resolve(path);
    }
    let p = this.inFlight.get(image.id);
    if (!p) {
      p = this.download(image, path).finally(() => this.inFlight.delete(image.id));
      this.inFlight.set(image.id, p);
    }
    return p;
  }

  private async download(image: CachedImageRef, path: string): Promise<string> {
    if (!image.location) throw new Error(`image ${image.id} has no data (no location)`);
    const started = Date.now();
    const tmp = `${path}.part-${process.pid}`;
    try {
      const size = await getImageObject(
        await openImageStore(this.nc),
        image.location,
        tmp,
        image.checksum || undefined,
      );
      // Base images are never written again: read-only for everyone, VM processes included.
      chmodSync(tmp, 0o444);
      renameSync(tmp, path);
      this.metrics.imageCache.inc({ result: 'miss' });
      this.logger.info({ image: image.id, size, ms: Date.now() - started }, 'image cached');
      return path;
    } catch (err) {
      rmSync(tmp, { force: true });
      this.metrics.imageCache.inc({ result: 'error' });
      throw err;
    }
  }
}
