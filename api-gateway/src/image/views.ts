// Glance v2 image bodies: the schema's fields plus custom properties as top-level string keys.
import type { ImageRecord } from '@hypernova/common';

export function imageView(i: ImageRecord) {
  return {
    ...i.properties,
    id: i.id,
    name: i.name,
    status: i.status,
    visibility: i.visibility,
    protected: i.protected,
    os_hidden: false,
    owner: i.owner || null,
    disk_format: i.diskFormat,
    container_format: i.containerFormat,
    min_disk: i.minDiskGb,
    min_ram: i.minRamMb,
    size: i.size,
    virtual_size: null,
    checksum: i.checksum || null,
    os_hash_algo: i.hashValue ? 'sha512' : null,
    os_hash_value: i.hashValue || null,
    created_at: i.createdAt.replace(/\.\d+Z$/, 'Z'),
    updated_at: i.updatedAt.replace(/\.\d+Z$/, 'Z'),
    tags: [],
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}

/** Glance's error body for JSON clients. */
export function glanceErrorBody(status: number, title: string, message: string) {
  return { code: `${status} ${title}`, title, message };
}
