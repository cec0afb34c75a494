// Wires a compute agent together: Redis, NATS, the image cache, the instance manager (which
// re-adopts running VMs), the Compute gRPC server with health, the host record and its
// heartbeat, and /metrics. Tests start agents in-process with this; main.ts does it from the
// environment.
import { mkdirSync, readFileSync, statfsSync } from 'node:fs';
import { cpus, hostname, totalmem } from 'node:os';
import { join } from 'node:path';
import {
  connectNats,
  createLogger,
  createMetricsRegistry,
  createRedis,
  loadCredentials,
  serveMetrics,
  startGrpcServer,
  type GrpcServerHandle,
  type Logger,
  type MetricsServer,
  type NatsConnection,
  type Redis,
} from '@hypernova/common';
import { startHostHeartbeat, type HeartbeatHandle, type HostSpec } from '@hypernova/cluster-state';
import { compute } from '@hypernova/proto';
import type { AgentConfig } from './config.js';
import { ImageCache } from './image-cache.js';
import { LiveMigrations } from './live-migration.js';
import { ComputeManager } from './manager.js';
import { createAgentMetrics } from './metrics.js';
import { StateReporter } from './reporter.js';
import { computeServer } from './service.js';
import { createConfinement } from './confinement.js';
import { defaultVmCommand } from './vm-process.js';

export const HYPERVISOR_TYPE = 'hypernova';
export const ARCHITECTURE = 'riscv32';

export interface ComputeAgent {
  readonly host: HostSpec;
  readonly grpc: GrpcServerHandle;
  readonly metrics?: MetricsServer;
  readonly manager: ComputeManager;
  readonly heartbeat: HeartbeatHandle;
  /** Stops serving and watching; the VMs keep running. markDown shows the host down at once. */
  close(opts?: { markDown?: boolean }): Promise<void>;
}

function packageVersion(): string {
  const pkg = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
}

function hostSpec(config: AgentConfig, name: string, address: string): HostSpec {
  const fs = statfsSync(config.stateDir);
  return {
    name,
    address,
    vcpus: config.vcpus || cpus().length,
    ramMb: config.ramMb || Math.floor(totalmem() / 2 ** 20),
    diskGb: config.diskGb || Math.floor((fs.blocks * fs.bsize) / 2 ** 30),
    cpuAllocationRatio: config.cpuAllocationRatio,
    ramAllocationRatio: config.ramAllocationRatio,
    diskAllocationRatio: config.diskAllocationRatio,
    hypervisorType: HYPERVISOR_TYPE,
    hypervisorVersion: packageVersion(),
    architecture: ARCHITECTURE,
    availabilityZone: config.availabilityZone,
    enabled: config.enabled,
  };
}

export async function startComputeAgent(config: AgentConfig, logger?: Logger): Promise<ComputeAgent> {
  const name = config.hostName || hostname();
  const log = logger ?? createLogger('compute', { level: config.logLevel });
  mkdirSync(config.stateDir, { recursive: true });
  const credentials = loadCredentials(config.credentialsDir);
  const redis: Redis = createRedis(config.redisUrl, { logger: log, credentials });
  let nc: NatsConnection | undefined;
  const cleanups: (() => Promise<void> | void)[] = [() => redis.disconnect()];
  const cleanUp = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    nc = await connectNats(config.natsUrl, { name: `compute-${name}`, logger: log, credentials });
    const natsConn = nc;
    cleanups.push(() => natsConn.close());
    const registry = createMetricsRegistry('compute');
    const metrics = createAgentMetrics(registry);
    const reporter = new StateReporter(redis, nc, name, log);
    cleanups.push(() => reporter.close());
    const manager = new ComputeManager(
      {
        host: name,
        stateDir: config.stateDir,
        instancesDir: config.instancesDir,
        vmCommand: config.vmCommand ? config.vmCommand.split(' ').filter(Boolean) : defaultVmCommand(),
        vmStartTimeoutMs: config.vmStartTimeoutMs,
        cleanShutdownTimeoutS: config.cleanShutdownTimeoutS,
        supervisePollMs: config.supervisePollMs,
        orphanAction: config.orphanAction,
        spawnDelayMs: config.spawnDelayMs,
        confinement: createConfinement(
          {
            mode: config.vmConfinement,
            uidRange: config.vmUidRange,
            limits: { openFiles: config.vmOpenFiles, processes: config.vmProcesses },
            stateDir: config.stateDir,
          },
          redis,
          name,
          log,
        ),
      },
      redis,
      new ImageCache(join(config.stateDir, 'images'), nc, log, metrics),
      reporter,
      metrics,
      log,
    );
    // Adopt before serving: calls must find the instances a previous agent left running.
    await manager.start();
    cleanups.push(() => manager.stop());
    const migrations = new LiveMigrations(
      manager,
      redis,
      name,
      { natsUrl: config.natsUrl, encrypt: config.migrationEncrypt, credentials },
      {
        downtimeLimitMs: config.migrationDowntimeLimitMs,
        maxBandwidth: config.migrationMaxBandwidth,
        verify: config.migrationVerify,
      },
      log,
    );
    const grpc = await startGrpcServer({
      services: [{ definition: compute.ComputeService, implementation: computeServer(manager, migrations, log) }],
      address: config.grpcAddress,
      logger: log,
      credentials,
    });
    cleanups.push(() => grpc.close(2000));
    const bindHost = config.grpcAddress.slice(0, config.grpcAddress.lastIndexOf(':'));
    const advertised =
      config.advertiseAddress || `${bindHost === '0.0.0.0' || bindHost === '' ? name : bindHost}:${grpc.port}`;
    const host = hostSpec(config, name, advertised);
    const heartbeat = await startHostHeartbeat(redis, host, {
      intervalMs: config.heartbeatIntervalMs,
      ttlS: config.heartbeatTtlS,
      logger: log,
    });
    const metricsServer = config.metricsPort >= 0 ? await serveMetrics(registry, config.metricsPort) : undefined;
    log.info(
      {
        host: name,
        address: advertised,
        grpcPort: grpc.port,
        metricsPort: metricsServer?.port,
        instances: manager.list().length,
      },
      'compute agent ready',
    );
    return {
      host,
      grpc,
      metrics: metricsServer,
      manager,
      heartbeat,
      async close(opts = {}) {
        await heartbeat.stop({ markDown: opts.markDown });
        await metricsServer?.close();
        await cleanUp();
      },
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
