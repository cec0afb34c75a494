// @hypernova/test harness: real nats-server and redis-server for cross-service tests and
// benchmarks (local processes on free loopback ports, or testcontainers when Docker answers).
import { startNats } from './nats.js';
import { startRedis, type RedisOptions } from './redis.js';
import type { InfraServer } from './server.js';

export { credentialsEnv, testCredentials, TEST_IDENTITIES, type TestIdentity } from './credentials.js';
export { useDocker } from './docker.js';
export { freePort } from './ports.js';
export { startGatewayProcess, type GatewayProcess } from './gateway.js';
export { findBinary, startProcess, type ManagedProcess, type StartProcessOptions } from './process.js';
export { startNats } from './nats.js';
export { startRedis, useRedis, type RedisOptions } from './redis.js';
export { startSchedulerReplica, type SchedulerReplica } from './scheduler.js';
export { waitForTcp, type InfraServer } from './server.js';

export interface Infra {
  redis: InfraServer;
  nats: InfraServer;
  stop(): Promise<void>;
}

/** Both servers, started side by side. */
export async function startInfra(opts: { redis?: RedisOptions } = {}): Promise<Infra> {
  const [r, n] = await Promise.allSettled([startRedis(opts.redis), startNats()]);
  if (r.status === 'rejected' || n.status === 'rejected') {
    // Stop whichever did start before reporting the failure.
    await Promise.all([r, n].map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw r.status === 'rejected' ? r.reason : (n as PromiseRejectedResult).reason;
  }
  const redis = r.value;
  const nats = n.value;
  return {
    redis,
    nats,
    stop: async () => {
      await Promise.all([redis.stop(), nats.stop()]);
    },
  };
}
