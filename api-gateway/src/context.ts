// Everything a route needs, built once by app.ts and handed to every route module.
import type { Logger, NatsConnection, Redis, Registry } from '@hypernova/common';
import type { NetworkState } from '@hypernova/cluster-state';
import type { Builder } from './compute/build.js';
import type { ComputeClients, SchedulerRpc } from './compute/clients.js';
import type { FlavorStore } from './compute/flavors.js';
import type { HostIds } from './compute/host-ids.js';
import type { InstanceActions } from './compute/instance-actions.js';
import type { Instances } from './compute/instances.js';
import type { KeypairStore } from './compute/keypairs.js';
import type { LiveMigrations } from './compute/live-migration.js';
import type { MigrationStore } from './compute/migrations.js';
import type { Operations } from './compute/operations.js';
import type { Quotas } from './compute/quota.js';
import type { BuildReaper } from './compute/reaper.js';
import type { ServerGroupStore } from './compute/server-groups.js';
import type { Tasks } from './compute/tasks.js';
import type { GatewayConfig } from './config.js';
import type { IdentityStore } from './identity/store.js';
import type { LoginThrottle } from './identity/lockout.js';
import type { TokenService } from './identity/tokens.js';
import type { ImageData } from './image/data.js';

export interface Gateway {
  config: GatewayConfig;
  logger: Logger;
  redis: Redis;
  nats?: NatsConnection;
  metrics: Registry;
  identity: IdentityStore;
  tokens: TokenService;
  logins: LoginThrottle;
  flavors: FlavorStore;
  serverGroups: ServerGroupStore;
  hostIds: HostIds;
  instances: Instances;
  actions: InstanceActions;
  scheduler: SchedulerRpc;
  clients: ComputeClients;
  tasks: Tasks;
  builder: Builder;
  operations: Operations;
  reaper: BuildReaper;
  imageData: ImageData;
  keypairs: KeypairStore;
  quotas: Quotas;
  migrations: MigrationStore;
  liveMigrations: LiveMigrations;
  /** Neutron's records. */
  network: NetworkState;
}
