// A scheduler replica as its own OS process (the built hypernova-scheduler), as a cluster
// runs it, so tests exercise separate processes with separate Redis connections.
import { fileURLToPath } from 'node:url';
import { credentialsEnv } from './credentials.js';
import { startProcess, type ManagedProcess } from './process.js';

export interface SchedulerReplica {
  /** host:port of its gRPC server. */
  readonly address: string;
  /** Port of its /metrics server, -1 when off (the default; set METRICS_PORT=0 in env for one). */
  readonly metricsPort: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startSchedulerReplica(opts: {
  redisUrl: string;
  /** Extra SCHEDULER_* settings (see `hypernova-scheduler --help`). */
  env?: Record<string, string>;
  name?: string;
  /** Node options for the replica (e.g. --cpu-prof when profiling). */
  nodeArgs?: string[];
}): Promise<SchedulerReplica> {
  const main = fileURLToPath(new URL('./main.js', import.meta.resolve('@hypernova/scheduler')));
  const proc = await startProcess({
    name: opts.name ?? 'scheduler',
    command: process.execPath,
    args: [...(opts.nodeArgs ?? []), main],
    env: {
      ...process.env,
      REDIS_URL: opts.redisUrl,
      SCHEDULER_GRPC_ADDRESS: '127.0.0.1:0',
      METRICS_PORT: '-1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...credentialsEnv('scheduler'),
      ...opts.env,
    },
    ready: /SCHEDULER_READY port=(\d+) metrics=(-?\d+)/,
  });
  return {
    address: `127.0.0.1:${proc.ready[1]}`,
    metricsPort: Number(proc.ready[2]),
    process: proc,
    stop: () => proc.stop(),
  };
}
