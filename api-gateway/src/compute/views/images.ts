// Nova's images proxy bodies (v2.1, below 2.36), from the image registry's Glance-like records.
import type { ImageRecord } from '@hypernova/cluster-state';
import { isoSeconds, resourceLinks } from './links.js';

const STATUS: Record<string, string> = {
  active: 'ACTIVE',
  queued: 'SAVING',
  saving: 'SAVING',
  deleted: 'DELETED',
  pending_delete: 'DELETED',
  killed: 'ERROR',
};

export const imageSummary = (i: ImageRecord, base: string) => ({ id: i.id, name: i.name, links: imageLinks(i, base) });

function imageLinks(i: ImageRecord, base: string) {
  return [
    ...resourceLinks(base, 'images', i.id),
    { rel: 'alternate', type: 'application/vnd.openstack.image', href: `${base}/image/v2/images/${i.id}` },
  ];
}

export function imageDetail(i: ImageRecord, base: string) {
  const status = STATUS[i.status] ?? 'UNKNOWN';
  return {
    id: i.id,
    name: i.name,
    minRam: i.minRamMb,
    minDisk: i.minDiskGb,
    progress: status === 'ACTIVE' ? 100 : 0,
    status,
    created: isoSeconds(i.createdAt),
    updated: isoSeconds(i.updatedAt),
    metadata: i.properties,
    'OS-EXT-IMG-SIZE:size': i.size,
    links: imageLinks(i, base),
  };
}
