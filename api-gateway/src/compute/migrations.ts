// Migration records as os-migrations lists them (Nova's Migration object). Nothing writes them
// yet: live migration (compute-node/src/migration, with its own record) is being built, and
// this is the one place that will read its records; until then the list is empty.
export interface MigrationRecord {
  id: number;
  uuid: string;
  instanceUuid: string;
  /** live-migration, migration (cold), resize, evacuation */
  migrationType: string;
  /** Nova's statuses: queued, preparing, running, completed, failed, cancelled, error, ... */
  status: string;
  sourceCompute: string;
  sourceNode: string;
  destCompute: string;
  destNode: string;
  destHost: string;
  oldFlavorId: number | null;
  newFlavorId: number | null;
  projectId: string;
  userId: string;
  createdAt: string;
  updatedAt: string;
}

export class MigrationSource {
  /** Every migration, oldest first. */
  async list(): Promise<MigrationRecord[]> {
    return [];
  }
}
