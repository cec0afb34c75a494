// A scheduler replica as its own OS process (the built hypernova-scheduler), as a cluster
// runs it, so tests exercise separate processes with separate Redis connections.
import { fileURLToPath } from 'node:url';
import { startProcess, type ManagedProcess } from './process.js';

export interface SchedulerReplica {
  /** host:port of its gRPC server. */
  readonly address: string;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export async function startSchedulerReplica(opts: {
  redisUrl: string;
  /** Extra SCHEDULER_* settings (see `hypernova-scheduler --help`). */
  env?: Record<string, string>;
  name?: string;
}): Promise<SchedulerReplica> {
  const main = fileURLToPath(new URL('./main.js', import.meta.resolve('@hypernova/scheduler')));
  const proc = await startProcess({
    name: opts.name ?? 'scheduler',
    command: process.execPath,
    args: [main],
    env: {
      ...process.env,
      REDIS_URL: opts.redisUrl,
      SCHEDULER_GRPC_ADDRESS: '127.0.0.1:0',
      METRICS_PORT: '-1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      ...opts.env,
    },
    ready: /SCHEDULER_READY port=(\d+)/,
  });
  return {
    address: `127.0.0.1:${proc.ready[1]}`,
    process: proc,
    stop: () => proc.stop(),
  };
}
