// Image bytes: stored once in the JetStream object store IMAGE_OBJECT_STORE (under the image's
// `location`) and described by an image record (images.ts). Uploading, the compute nodes'
// download, and the guest image set every cluster registers at start live here, so the local
// launcher, the API gateway and the agents share one implementation.
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { StorageType, type NatsConnection, type ObjectStore } from 'nats';
import type { Redis } from 'ioredis';
import { IMAGE_OBJECT_STORE } from '@hypernova/common';
import { listImages, registerImage, type ImageRecord, type NewImage } from './images.js';

/** The image object store (created on first use, on disk so a NATS restart keeps it). */
export function openImageStore(nc: NatsConnection): Promise<ObjectStore> {
  return nc.jetstream().views.os(IMAGE_OBJECT_STORE, { storage: StorageType.File });
}

export interface FileDigest {
  size: number;
  /** Glance's `checksum`. */
  md5: string;
  /** Glance's os_hash_value (os_hash_algo sha512). */
  sha512: string;
}

export async function digestFile(path: string): Promise<FileDigest> {
  const md5 = createHash('md5');
  const sha512 = createHash('sha512');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    md5.update(chunk);
    sha512.update(chunk);
    size += chunk.length;
  }
  return { size, md5: md5.digest('hex'), sha512: sha512.digest('hex') };
}

/** Streams a file into the store under `name` (replacing what was there). */
export async function putImageObject(store: ObjectStore, name: string, path: string): Promise<void> {
  const web = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
  await store.put({ name }, web);
}

/**
 * Streams the object `name` into `dest` and checks what arrived against the record's md5 (the
 * object store also checks its own SHA-256 digest). Throws when the object is missing or damaged;
 * `dest` may then hold partial data, so callers write to a temporary name and rename.
 */
export async function getImageObject(
  store: ObjectStore,
  name: string,
  dest: string,
  expectMd5?: string,
): Promise<number> {
  const result = await store.get(name);
  if (!result) throw new Error(`image object ${name} is not in the ${IMAGE_OBJECT_STORE} store`);
  const md5 = createHash('md5');
  let size = 0;
  const source = Readable.fromWeb(result.data as unknown as WebReadableStream<Uint8Array>);
  source.on('data', (chunk: Buffer) => {
    md5.update(chunk);
    size += chunk.length;
  });
  await pipeline(source, createWriteStream(dest));
  const err = await result.error;
  if (err) throw new Error(`image object ${name}: ${err.message}`);
  const got = md5.digest('hex');
  if (expectMd5 && got !== expectMd5)
    throw new Error(`image object ${name}: checksum ${got} does not match ${expectMd5}`);
  return size;
}

/** What to register: a file plus the record's descriptive fields. */
export type ImageUpload = Omit<NewImage, 'size' | 'checksum' | 'hashValue' | 'location' | 'status'> & { file: string };

/**
 * Registers `upload.file` as an image unless an active image of the same name and content exists
 * (its object still in the store): re-running a cluster start reuses what it uploaded before.
 */
export async function ensureImage(nc: NatsConnection, redis: Redis, upload: ImageUpload): Promise<ImageRecord> {
  const { file, ...fields } = upload;
  const digest = await digestFile(file);
  const store = await openImageStore(nc);
  for (const existing of await listImages(redis)) {
    if (existing.name !== fields.name || existing.hashValue !== digest.sha512 || existing.status !== 'active') continue;
    if (await store.info(existing.location)) return existing;
  }
  const id = fields.id ?? randomUUID();
  await putImageObject(store, id, file);
  return registerImage(redis, {
    ...fields,
    id,
    status: 'active',
    size: digest.size,
    checksum: digest.md5,
    hashValue: digest.sha512,
    location: id,
  });
}

/** The guest every cluster offers at start (guest/: the Linux kernel Image with its initramfs). */
export interface GuestImageFiles {
  /** Kernel Image (its initramfs built in). */
  kernel: string;
  /** A root disk image, when the guest build made one. */
  rootDisk?: string;
  rootDiskFormat?: 'raw' | 'qcow2';
  /** Kernel command line booting the initramfs (Nova's os_command_line image property). */
  commandLine?: string;
  /** Kernel command line booting the root disk. */
  rootCommandLine?: string;
}

export const GUEST_IMAGE_NAME = 'guest';
export const GUEST_KERNEL_IMAGE_NAME = 'guest-kernel';
const GUEST_PROPERTIES = { architecture: 'riscv32', hypervisor_type: 'hypernova', os_type: 'linux' };

/**
 * Registers the guest image set: with a root disk, a kernel image (disk format aki) plus the
 * root disk image pointing at it (Nova's kernel_id property); without one, the kernel alone as
 * the bootable "guest" image. Returns the image to boot (imageRef).
 */
export async function registerGuestImageSet(
  nc: NatsConnection,
  redis: Redis,
  files: GuestImageFiles,
): Promise<ImageRecord> {
  const commandLine = files.commandLine ?? 'console=ttyS0';
  const kernelImage = (name: string) =>
    ensureImage(nc, redis, {
      name,
      file: files.kernel,
      diskFormat: 'aki',
      containerFormat: 'aki',
      minRamMb: 32,
      properties: { ...GUEST_PROPERTIES, os_command_line: commandLine },
    });
  if (!files.rootDisk) return kernelImage(GUEST_IMAGE_NAME);
  const kernel = await kernelImage(GUEST_KERNEL_IMAGE_NAME);
  return ensureImage(nc, redis, {
    name: GUEST_IMAGE_NAME,
    file: files.rootDisk,
    diskFormat: files.rootDiskFormat ?? 'raw',
    containerFormat: 'bare',
    minRamMb: 32,
    minDiskGb: Math.ceil((await stat(files.rootDisk)).size / 2 ** 30),
    properties: {
      ...GUEST_PROPERTIES,
      kernel_id: kernel.id,
      os_command_line: files.rootCommandLine ?? `${commandLine} root=/dev/vda rw rdinit=/none`,
    },
  });
}
