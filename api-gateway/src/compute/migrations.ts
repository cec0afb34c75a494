// Migration records as the API reads them (Nova's Migration objects): every migration for
// os-migrations, an instance's for /servers/{id}/migrations. Live migration (live-migration.ts)
// writes them; the source node adds its progress.
import { type Redis } from '@hypernova/common';
import { listMigrations, type MigrationRecord } from '@hypernova/cluster-state';

export type { MigrationRecord };

export class MigrationStore {
  constructor(private readonly redis: Redis) {}

  /** Every migration, oldest first. */
  list(): Promise<MigrationRecord[]> {
    return listMigrations(this.redis);
  }

  /** The instance's migrations, oldest first. */
  forInstance(uuid: string): Promise<MigrationRecord[]> {
    return listMigrations(this.redis, { instanceUuid: uuid });
  }
}
