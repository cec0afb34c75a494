// The scheduler's Prometheus metrics.
import { Counter, Histogram, type Registry } from '@hypernova/common';

export interface SchedulerMetrics {
  decisions: Counter<'result'>;
  decisionSeconds: Histogram<'rpc'>;
  claimFailures: Counter<'reason'>;
}

export function createSchedulerMetrics(registry: Registry): SchedulerMetrics {
  return {
    decisions: new Counter({
      name: 'hn_scheduler_decisions_total',
      help: 'Scheduling decisions by result (selected, no_valid_host, error)',
      labelNames: ['result'],
      registers: [registry],
    }),
    decisionSeconds: new Histogram({
      name: 'hn_scheduler_rpc_seconds',
      help: 'Time to answer a scheduler RPC',
      labelNames: ['rpc'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    claimFailures: new Counter({
      name: 'hn_scheduler_claim_failures_total',
      help: 'Placement claims the Lua script refused (the scheduler then tries the next host)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
