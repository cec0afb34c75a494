// Wires a scheduler replica together: Redis, host cache, placement, gRPC server with health,
// and /metrics. Tests and benchmarks start replicas in-process with this; main.ts does it from
// the environment.
import {
  createLogger,
  createMetricsRegistry,
  createRedis,
  loadCredentials,
  serveMetrics,
  startGrpcServer,
  type ConfigOf,
  type GrpcServerHandle,
  type Logger,
  type MetricsServer,
} from '@hypernova/common';
import { scheduler as pb } from '@hypernova/proto';
import type { schedulerSettings } from './config.js';
import { filtersByName } from './filters.js';
import { HostCache } from './host-cache.js';
import { createSchedulerMetrics } from './metrics.js';
import { Placement } from './placement.js';
import { Scheduler } from './scheduler.js';
import { schedulerServer } from './service.js';
import { createWeighers } from './weighers.js';

export type SchedulerConfig = ConfigOf<typeof schedulerSettings>;

export interface SchedulerApp {
  readonly grpc: GrpcServerHandle;
  readonly metrics?: MetricsServer;
  readonly scheduler: Scheduler;
  close(): Promise<void>;
}

export async function startSchedulerApp(config: SchedulerConfig, logger?: Logger): Promise<SchedulerApp> {
  const log = logger ?? createLogger('scheduler', { level: config.logLevel });
  const credentials = loadCredentials(config.credentialsDir);
  const redis = createRedis(config.redisUrl, { logger: log, credentials });
  const registry = createMetricsRegistry('scheduler');
  const metrics = createSchedulerMetrics(registry);
  const cache = new HostCache(redis, config.hostRefreshMs, log);
  await cache.refresh();
  cache.start();
  const scheduler = new Scheduler(new Placement(redis), cache, {
    filters: filtersByName(config.enabledFilters),
    weighers: createWeighers({
      ram: config.ramWeightMultiplier,
      cpu: config.cpuWeightMultiplier,
      disk: config.diskWeightMultiplier,
      softAffinity: config.softAffinityWeightMultiplier,
      softAntiAffinity: config.softAntiAffinityWeightMultiplier,
    }),
    hostSubsetSize: config.hostSubsetSize,
    maxClaimAttempts: config.maxClaimAttempts,
    logger: log,
    metrics,
  });
  const grpc = await startGrpcServer({
    services: [
      {
        definition: pb.SchedulerService,
        implementation: schedulerServer(scheduler, { defaultAlternates: config.numAlternates, logger: log, metrics }),
      },
    ],
    address: config.grpcAddress,
    logger: log,
    credentials,
  });
  const metricsServer = config.metricsPort >= 0 ? await serveMetrics(registry, config.metricsPort) : undefined;
  log.info({ grpcPort: grpc.port, metricsPort: metricsServer?.port }, 'scheduler ready');
  return {
    grpc,
    metrics: metricsServer,
    scheduler,
    async close() {
      await grpc.close();
      cache.stop();
      await metricsServer?.close();
      redis.disconnect();
    },
  };
}
