// The image registry: one record per guest image (Glance's image model), kept in a Redis hash so
// the API gateway (Nova's images proxy, later Glance v2), the image-register script and the
// compute agents read the same thing. The image bytes themselves live in the JetStream object
// store named IMAGE_OBJECT_STORE under `location`.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ConflictError, changeJsonField, redisKeys } from '@hypernova/common';

/** Glance's image statuses. */
export type ImageStatus = 'queued' | 'saving' | 'active' | 'killed' | 'deleted' | 'pending_delete' | 'deactivated';
export type ImageVisibility = 'public' | 'private' | 'shared' | 'community';

export interface ImageRecord {
  id: string;
  name: string;
  status: ImageStatus;
  visibility: ImageVisibility;
  /** Owning project id ('' for images registered by the cluster itself). */
  owner: string;
  diskFormat: string;
  containerFormat: string;
  /** Bytes; null until data is uploaded. */
  size: number | null;
  /** md5 hex of the data, as Glance's `checksum`. */
  checksum: string;
  /** sha512 hex of the data (Glance's os_hash_value with os_hash_algo sha512). */
  hashValue: string;
  minRamMb: number;
  minDiskGb: number;
  protected: boolean;
  /** Custom properties (architecture=riscv32, hypervisor_type, kernel args, ...). */
  properties: Record<string, string>;
  /** Glance's tags and os_hidden (absent in records written before the Glance API had them). */
  tags?: string[];
  hidden?: boolean;
  /** Object name in the image object store; '' until uploaded. */
  location: string;
  /** ISO 8601 */
  createdAt: string;
  updatedAt: string;
}

export type NewImage = Partial<ImageRecord> & Pick<ImageRecord, 'name'>;

/**
 * Registers an image (a new id unless given) and returns the stored record. With `exclusive`,
 * an existing record of that id is left alone and ConflictError thrown.
 */
export async function registerImage(
  redis: Redis,
  image: NewImage,
  opts: { exclusive?: boolean } = {},
): Promise<ImageRecord> {
  const now = new Date().toISOString();
  const rec: ImageRecord = {
    id: randomUUID(),
    status: 'active',
    visibility: 'public',
    owner: '',
    diskFormat: 'raw',
    containerFormat: 'bare',
    size: null,
    checksum: '',
    hashValue: '',
    minRamMb: 0,
    minDiskGb: 0,
    protected: false,
    properties: {},
    location: '',
    createdAt: now,
    updatedAt: now,
    ...image,
  };
  if (opts.exclusive) {
    if (!(await redis.hsetnx(redisKeys.images(), rec.id, JSON.stringify(rec))))
      throw new ConflictError(`An image with identifier ${rec.id} already exists`);
  } else {
    await redis.hset(redisKeys.images(), rec.id, JSON.stringify(rec));
  }
  return rec;
}

export async function getImage(redis: Redis, id: string): Promise<ImageRecord | undefined> {
  const raw = await redis.hget(redisKeys.images(), id);
  return raw ? (JSON.parse(raw) as ImageRecord) : undefined;
}

/** Every registered image, oldest first (ties by id), as Glance lists by created_at. */
export async function listImages(redis: Redis): Promise<ImageRecord[]> {
  const all = Object.values(await redis.hgetall(redisKeys.images())).map((raw) => JSON.parse(raw) as ImageRecord);
  return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
}

/** Merges `patch` into the record; undefined when there is no such image. */
export async function updateImage(
  redis: Redis,
  id: string,
  patch: Partial<Omit<ImageRecord, 'id' | 'createdAt'>>,
): Promise<ImageRecord | undefined> {
  const current = await getImage(redis, id);
  if (!current) return undefined;
  const rec = { ...current, ...patch, updatedAt: new Date().toISOString() };
  await redis.hset(redisKeys.images(), id, JSON.stringify(rec));
  return rec;
}

/**
 * Replaces the record by what `change` makes of it (null deletes it), atomically: when another
 * writer got in between, `change` runs again on the fresh record (see json-hash.ts). `change`
 * may throw to refuse (a state check). Returns the new record (the old one when deleted);
 * undefined when there is no such image.
 */
export async function changeImage(
  redis: Redis,
  id: string,
  change: (current: ImageRecord) => ImageRecord | null,
): Promise<ImageRecord | undefined> {
  return changeJsonField<ImageRecord>(redis, redisKeys.images(), id, (current) => {
    const next = change(current);
    return next === null ? null : { ...next, id, updatedAt: new Date().toISOString() };
  });
}

/** Removes the record; false when there was none. */
export async function deleteImage(redis: Redis, id: string): Promise<boolean> {
  return (await redis.hdel(redisKeys.images(), id)) === 1;
}
