// Glance v2 image bodies: the schema's fields plus custom properties as top-level string keys.
import type { ImageRecord } from '@hypernova/cluster-state';

/** Glance's times: seconds, UTC, "Z". */
const glanceTime = (iso: string) => iso.replace(/\.\d+Z$/, 'Z');

export function imageView(i: ImageRecord) {
  return {
    ...i.properties,
    id: i.id,
    name: i.name || null,
    status: i.status,
    visibility: i.visibility,
    protected: i.protected,
    os_hidden: i.hidden ?? false,
    owner: i.owner || null,
    disk_format: i.diskFormat || null,
    container_format: i.containerFormat || null,
    min_disk: i.minDiskGb,
    min_ram: i.minRamMb,
    size: i.size,
    virtual_size: null,
    checksum: i.checksum || null,
    os_hash_algo: i.hashValue ? 'sha512' : null,
    os_hash_value: i.hashValue || null,
    created_at: glanceTime(i.createdAt),
    updated_at: glanceTime(i.updatedAt),
    tags: i.tags ?? [],
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}

/** Glance's error body for JSON clients. */
export function glanceErrorBody(status: number, title: string, message: string) {
  return { code: `${status} ${title}`, title, message };
}
