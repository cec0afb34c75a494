// Nova v2.1 os-migrations items (below 2.23: no migration_type, links or uuid; exactly these keys).
import type { MigrationRecord } from '../migrations.js';
import { isoMicros } from './links.js';

export const migrationView = (m: MigrationRecord) => ({
  id: m.id,
  status: m.status,
  instance_uuid: m.instanceUuid,
  source_node: m.sourceNode,
  source_compute: m.sourceCompute,
  dest_node: m.destNode,
  dest_compute: m.destCompute,
  dest_host: m.destHost,
  old_instance_type_id: m.oldFlavorId,
  new_instance_type_id: m.newFlavorId,
  created_at: isoMicros(m.createdAt),
  updated_at: m.updatedAt ? isoMicros(m.updatedAt) : null,
});
