// Image bytes in the cluster's JetStream object store (cluster-state/src/image-store.ts), where the compute
// agents pull them from into their caches: an upload streams the request body into the store
// while computing Glance's checksum (md5) and os_hash_value (sha512); a download streams the
// object back.
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { suppressed, type Logger, type NatsConnection } from '@hypernova/common';
import { openImageStore, type FileDigest } from '@hypernova/cluster-state';
import type { ObjectStore } from 'nats';
import { ApiError } from '../http/errors.js';

/** Counts and hashes what flows through, failing once more than `cap` bytes arrived. */
class Digester extends Transform {
  private readonly md5 = createHash('md5');
  private readonly sha512 = createHash('sha512');
  size = 0;

  constructor(private readonly cap: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.cap) {
      done(new ApiError(413, `Image exceeds the storage quota: image size cap is ${this.cap} bytes.`));
      return;
    }
    this.md5.update(chunk);
    this.sha512.update(chunk);
    done(null, chunk);
  }

  digest(): FileDigest {
    return { size: this.size, md5: this.md5.digest('hex'), sha512: this.sha512.digest('hex') };
  }
}

export class ImageData {
  private store?: Promise<ObjectStore>;

  constructor(
    private readonly nats: NatsConnection | undefined,
    private readonly logger: Logger,
  ) {}

  private open(): Promise<ObjectStore> {
    if (!this.nats || this.nats.isClosed())
      return Promise.reject(new ApiError(503, 'The image store is not reachable.'));
    this.store ??= openImageStore(this.nats).catch((err: unknown) => {
      this.store = undefined; // try again on the next request
      throw err;
    });
    return this.store;
  }

  /**
   * Streams `source` into the object `name`, replacing what was there. A failed upload (client
   * gone, too large, store error) leaves no object behind and throws.
   */
  async upload(name: string, source: Readable, cap: number): Promise<FileDigest> {
    const store = await this.open();
    const digester = new Digester(cap);
    source.on('error', (err) => digester.destroy(err));
    // The client hanging up mid-body is an error for the upload, not an end of file.
    source.on('aborted', () =>
      digester.destroy(new ApiError(400, 'The client closed the connection during the upload.')),
    );
    source.pipe(digester);
    try {
      await store.put({ name }, Readable.toWeb(digester) as unknown as ReadableStream<Uint8Array>);
    } catch (err) {
      await store.delete(name).catch(suppressed(this.logger, 'image', 'remove partial upload', { image: name }));
      throw digester.errored instanceof ApiError ? digester.errored : err;
    }
    return digester.digest();
  }

  /** The object as a stream; undefined when the store does not hold it. */
  async download(name: string): Promise<Readable | undefined> {
    const result = await (await this.open()).get(name);
    if (!result) return undefined;
    const stream = Readable.fromWeb(result.data as unknown as WebReadableStream<Uint8Array>);
    // The store checks its SHA-256 digest at the end: a damaged object aborts the response.
    result.error.then(
      (err) => err && stream.destroy(err),
      (err: unknown) => stream.destroy(err as Error),
    );
    return stream;
  }

  /** Removes the object (nothing when it is not there). */
  async remove(name: string): Promise<void> {
    const store = await this.open();
    const info = await store.info(name);
    if (info && !info.deleted) await store.delete(name);
  }
}
