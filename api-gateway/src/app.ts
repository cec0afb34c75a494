// Wires a gateway together: Redis, NATS, the scheduler and compute gRPC clients, the identity
// bootstrap, default flavors and (when asked) devstack's networks, and the HTTP server. Tests
// start gateways in-process with this; main.ts does it from the environment.
import {
  ConfigError,
  connectNats,
  createLogger,
  createMetricsRegistry,
  createRedis,
  loadCredentials,
  type Logger,
  type NatsConnection,
} from '@hypernova/common';
import { NetworkState } from '@hypernova/cluster-state';
import type { FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { Builder } from './compute/build.js';
import { ComputeClients, SchedulerRpc } from './compute/clients.js';
import { FlavorStore } from './compute/flavors.js';
import { HostIds } from './compute/host-ids.js';
import { InstanceActions } from './compute/instance-actions.js';
import { Instances } from './compute/instances.js';
import { KeypairStore } from './compute/keypairs.js';
import { LiveMigrations } from './compute/live-migration.js';
import { MigrationStore } from './compute/migrations.js';
import { Operations } from './compute/operations.js';
import { Quotas } from './compute/quota.js';
import { BuildReaper } from './compute/reaper.js';
import { ServerGroupStore } from './compute/server-groups.js';
import { Tasks } from './compute/tasks.js';
import { gatewaySettings, type GatewayConfig } from './config.js';
import type { Gateway } from './context.js';
import { buildServer } from './http/server.js';
import { bootstrapIdentity } from './identity/bootstrap.js';
import { LoginThrottle } from './identity/lockout.js';
import { IdentityStore } from './identity/store.js';
import { TokenService } from './identity/tokens.js';
import { ImageData } from './image/data.js';
import { ensureDevstackNetworks } from './network/devstack.js';

export interface GatewayApp {
  readonly gateway: Gateway;
  readonly http: FastifyInstance;
  /** http://host:port the server listens on. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startGateway(config: GatewayConfig, logger?: Logger): Promise<GatewayApp> {
  if (config.migrationLeaseMs < 100)
    throw new ConfigError(`HYPERNOVA_MIGRATION_LEASE_MS=${config.migrationLeaseMs}: too short (at least 100)`);
  const log = logger ?? createLogger('api-gateway', { level: config.logLevel });
  const credentials = loadCredentials(config.credentialsDir);
  const redis = createRedis(config.redisUrl, { logger: log, credentials });
  let nats: NatsConnection | undefined;
  try {
    nats = await connectNats(config.natsUrl, { name: 'api-gateway', logger: log, credentials });
  } catch (err) {
    // Events are a convenience for watchers; the API works from Redis without them.
    log.warn({ err, url: config.natsUrl }, 'NATS unreachable; instance events will not be published');
  }
  const identity = new IdentityStore(redis);
  const instances = new Instances(redis, nats, log);
  const scheduler = new SchedulerRpc(config.schedulerAddress, credentials);
  const clients = new ComputeClients({
    timeoutMs: config.computeTimeoutMs,
    spawnTimeoutMs: config.spawnTimeoutMs,
    credentials,
  });
  // Unique per gateway process; the host and pid tell an operator whose lease it is.
  const lease = { holder: `${hostname()}/${process.pid}/${randomUUID()}`, ttlMs: config.migrationLeaseMs };
  const tasks = new Tasks(log, { redis, lease });
  const actions = new InstanceActions(redis);
  const deps = { instances, actions, scheduler, clients, tasks, logger: log };
  const serverGroups = new ServerGroupStore(redis);
  const gateway: Gateway = {
    config,
    logger: log,
    redis,
    nats,
    metrics: createMetricsRegistry('api-gateway'),
    identity,
    tokens: new TokenService(redis, identity, config.tokenTtlS),
    logins: new LoginThrottle(redis, {
      attempts: config.lockoutFailureAttempts,
      addressAttempts: config.lockoutAddressAttempts,
      durationS: config.lockoutDurationS,
    }),
    flavors: new FlavorStore(redis),
    serverGroups,
    hostIds: new HostIds(redis),
    instances,
    actions,
    scheduler,
    clients,
    tasks,
    builder: new Builder({ ...deps, maxAttempts: config.spawnAttempts }),
    operations: new Operations(deps),
    // Longer than the slowest live build: every attempt's spawn deadline plus scheduling.
    reaper: new BuildReaper(deps, config.spawnAttempts * (config.spawnTimeoutMs + 30_000)),
    imageData: new ImageData(nats, log),
    keypairs: new KeypairStore(redis),
    quotas: new Quotas(redis, config),
    migrations: new MigrationStore(redis),
    liveMigrations: new LiveMigrations({ ...deps, redis, serverGroups, lease }),
    network: new NetworkState(redis),
  };
  if (config.adminPassword === gatewaySettings.adminPassword.default && !/^(127\.|::1$|localhost$)/.test(config.host)) {
    log.warn(
      { host: config.host },
      'serving beyond loopback with the default admin password: set HYPERNOVA_ADMIN_PASSWORD',
    );
  }
  await bootstrapIdentity(identity, config, log);
  await gateway.flavors.seed();
  if (config.devstackNetworks) {
    const projects = config.devstackNetworks
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    // The API serves without them: a failure (another gateway starting at once) is only logged.
    try {
      const { missing } = await ensureDevstackNetworks(gateway, projects);
      if (missing.length > 0) log.warn({ missing }, 'devstack networks: no such projects');
    } catch (err) {
      log.error({ err }, 'devstack networks not made');
    }
  }

  gateway.reaper.start(60_000);
  gateway.liveMigrations.startSweeping();
  const http = buildServer(gateway);
  await http.listen({ host: config.host, port: config.port });
  const port = (http.server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url }, 'api gateway ready');
  return {
    gateway,
    http,
    url,
    port,
    async close() {
      gateway.reaper.stop();
      gateway.liveMigrations.stopSweeping();
      await http.close();
      await tasks.idle();
      scheduler.close();
      clients.close();
      await nats?.close();
      redis.disconnect();
    },
  };
}
