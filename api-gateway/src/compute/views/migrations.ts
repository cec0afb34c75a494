// Nova's migration views: os-migrations items (2.1: exactly these keys; 2.23 adds
// migration_type, and links on in-progress live migrations) and /servers/{id}/migrations items
// (2.23: with the memory_* and disk_* progress).
import { MIGRATION_IN_PROGRESS, type MigrationRecord } from '@hypernova/cluster-state';
import type { Microversion } from '../microversion.js';
import { isoMicros, resourceLinks } from './links.js';

/** Nova's instance_type ids are integers; ours are the flavor ids, shown when numeric. */
const flavorId = (id: string) => (/^\d+$/.test(id) ? Number(id) : null);

export const inProgress = (m: MigrationRecord) => MIGRATION_IN_PROGRESS.includes(m.status);

const serverMigrationsPath = (m: MigrationRecord) => `servers/${m.instanceUuid}/migrations`;

export const migrationView = (m: MigrationRecord, mv: Microversion, base: string) => ({
  id: m.id,
  status: m.status,
  instance_uuid: m.instanceUuid,
  source_node: m.sourceNode,
  source_compute: m.sourceCompute,
  dest_node: m.destNode,
  dest_compute: m.destCompute,
  dest_host: m.destHost,
  old_instance_type_id: flavorId(m.oldFlavorId),
  new_instance_type_id: flavorId(m.newFlavorId),
  created_at: isoMicros(m.createdAt),
  updated_at: m.updatedAt ? isoMicros(m.updatedAt) : null,
  ...(mv.atLeast(23) ? { migration_type: m.migrationType } : {}),
  ...(mv.atLeast(23) && m.migrationType === 'live-migration' && inProgress(m)
    ? { links: resourceLinks(base, serverMigrationsPath(m), String(m.id)) }
    : {}),
});

export const serverMigrationView = (m: MigrationRecord) => ({
  created_at: isoMicros(m.createdAt),
  dest_compute: m.destCompute,
  dest_host: m.destHost,
  dest_node: m.destNode,
  disk_processed_bytes: m.diskProcessedBytes,
  disk_remaining_bytes: m.diskRemainingBytes,
  disk_total_bytes: m.diskTotalBytes,
  id: m.id,
  memory_processed_bytes: m.memoryProcessedBytes,
  memory_remaining_bytes: m.memoryRemainingBytes,
  memory_total_bytes: m.memoryTotalBytes,
  server_uuid: m.instanceUuid,
  source_compute: m.sourceCompute,
  source_node: m.sourceNode,
  status: m.status,
  updated_at: m.updatedAt ? isoMicros(m.updatedAt) : null,
});
