// The agent's Prometheus metrics.
import { Counter, Gauge, Histogram, type Registry } from '@hypernova/common';

export function createAgentMetrics(registry: Registry) {
  return {
    instances: new Gauge({
      name: 'hypernova_compute_instances',
      help: 'Instances on this node by power state',
      labelNames: ['power_state'] as const,
      registers: [registry],
    }),
    operations: new Counter({
      name: 'hypernova_compute_operations_total',
      help: 'Compute operations by name and outcome',
      labelNames: ['operation', 'outcome'] as const,
      registers: [registry],
    }),
    spawnSeconds: new Histogram({
      name: 'hypernova_compute_spawn_seconds',
      help: 'Time from Spawn to a running VM process (image fetch, disk, process start)',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    imageCache: new Counter({
      name: 'hypernova_compute_image_cache_total',
      help: 'Base-image cache lookups by result (hit, miss = downloaded, error)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    vmExits: new Counter({
      name: 'hypernova_compute_vm_exits_total',
      help: 'VM processes that ended without being asked to, by kind (guest shutdown, crash)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
  };
}

export type AgentMetrics = ReturnType<typeof createAgentMetrics>;
