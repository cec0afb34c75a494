// Scheduler benchmark: 1,000 registered hosts, 4 scheduler replicas (separate processes) on a
// real redis-server, many SelectDestinations calls in flight. Prints decisions per second,
// p50/p99 latency and the over-commit count found by re-adding every allocation in Redis
// (must be 0), and writes bench/results/scheduler.json.
// Knobs: BENCH_HOSTS, BENCH_SCHEDULERS, BENCH_REQUESTS, BENCH_CONCURRENCY, BENCH_SCHEDULER_NODE_ARGS.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  NoValidHostError,
  callUnary,
  createRedis,
  grpcClientCredentials,
  int,
  loadConfig,
  str,
  type Redis,
} from '@hypernova/common';
import { registerHost } from '@hypernova/cluster-state';
import { scheduler as pb } from '@hypernova/proto';
import { auditPlacement } from '@hypernova/scheduler';
import { startRedis, startSchedulerReplica } from '@hypernova/test';
import { processCpuMs } from './lib/measure.js';

const cfg = loadConfig({
  hosts: int('BENCH_HOSTS', 1000, 'registered hosts'),
  schedulers: int('BENCH_SCHEDULERS', 4, 'scheduler replicas'),
  requests: int('BENCH_REQUESTS', 10_000, 'SelectDestinations calls measured'),
  concurrency: int('BENCH_CONCURRENCY', 64, 'calls in flight'),
  nodeArgs: str('BENCH_SCHEDULER_NODE_ARGS', '', 'node options for the replicas, e.g. --cpu-prof'),
});
// Each replica JIT-compiles its own hot paths: warm every one up, then free what warm-up claimed.
const WARMUP = 2000;

// A host takes 64 vCPUs (16 x 4), 48 GiB (32 GiB x 1.5) and 500 GB: with this flavor mix about
// 13 instances on average, so 10,000 requests on 1,000 hosts fill the cluster to ~75%.
const HOST = {
  vcpus: 16,
  ramMb: 32768,
  diskGb: 500,
  cpuAllocationRatio: 4,
  ramAllocationRatio: 1.5,
  diskAllocationRatio: 1,
};
const FLAVORS = [
  { name: 'm1.tiny', vcpus: 1, ramMb: 512, diskGb: 1 },
  { name: 'm1.small', vcpus: 1, ramMb: 2048, diskGb: 20 },
  { name: 'm1.medium', vcpus: 2, ramMb: 4096, diskGb: 40 },
  { name: 'm1.large', vcpus: 4, ramMb: 8192, diskGb: 80 },
];

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

async function claimRefusals(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^hn_scheduler_claim_failures_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
  return n;
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const get = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (get('used_cpu_user') + get('used_cpu_sys')) * 1000;
}

async function main(): Promise<void> {
  const server = await startRedis();
  const redis = createRedis(server.url);
  const replicas = await Promise.all(
    Array.from({ length: cfg.schedulers }, (_, i) =>
      startSchedulerReplica({
        redisUrl: server.url,
        name: `scheduler-${i}`,
        env: { METRICS_PORT: '0' },
        nodeArgs: cfg.nodeArgs.split(' ').filter(Boolean),
      }),
    ),
  );
  const clients = replicas.map((r) => new pb.SchedulerClient(r.address, grpcClientCredentials('scheduler')));
  try {
    for (let i = 0; i < cfg.hosts; i++) {
      // A long TTL: the benchmark measures decisions, not heartbeats.
      await registerHost(
        redis,
        {
          name: `node-${String(i).padStart(4, '0')}`,
          address: `10.0.${i >> 8}.${i & 255}:50061`,
          ...HOST,
          hypervisorType: 'hypernova',
          hypervisorVersion: '0.1.0',
          architecture: 'riscv32',
          availabilityZone: 'nova',
          enabled: true,
        },
        3600,
      );
    }
    // Let every replica's periodic refresh see all hosts before measuring.
    await new Promise((r) => setTimeout(r, 1500));

    const select = (i: number, prefix = 'bench') => {
      const c = clients[i % clients.length];
      const flavor = FLAVORS[i % FLAVORS.length];
      const spec = pb.RequestSpec.fromPartial({ instanceUuid: `${prefix}-${i}`, projectId: 'bench', flavor });
      return callUnary(c.selectDestinations.bind(c), { spec, consumerUuid: '' });
    };

    for (let i = 0; i < WARMUP; i += cfg.concurrency) {
      await Promise.allSettled(
        Array.from({ length: Math.min(cfg.concurrency, WARMUP - i) }, (_, k) => select(i + k, 'warmup')),
      );
    }
    for (let i = 0; i < WARMUP; i += cfg.concurrency) {
      await Promise.all(
        Array.from({ length: Math.min(cfg.concurrency, WARMUP - i) }, (_, k) => {
          const c = clients[(i + k) % clients.length];
          return callUnary(c.releaseAllocation.bind(c), { consumerUuid: `warmup-${i + k}` });
        }),
      );
    }
    const refusalsBefore = (await Promise.all(replicas.map((r) => claimRefusals(r.metricsPort)))).reduce(
      (a, b) => a + b,
      0,
    );

    const cpuBefore = {
      client: process.cpuUsage(),
      schedulers: replicas.map((r) => processCpuMs(r.process.pid)),
      redis: await redisCpuMs(redis),
    };
    const latencies: number[] = [];
    let placed = 0;
    let noValidHost = 0;
    let errors = 0;
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < cfg.requests) {
        const i = next++;
        const t0 = performance.now();
        try {
          await select(i);
          placed++;
        } catch (err) {
          if (err instanceof NoValidHostError) noValidHost++;
          else if (errors++ < 5) console.error(err);
        }
        latencies.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: cfg.concurrency }, worker));
    const seconds = (performance.now() - started) / 1000;
    const clientCpu = process.cpuUsage(cpuBefore.client);
    const decisions = cfg.requests;
    const cpuMsPerDecision = {
      client: (clientCpu.user + clientCpu.system) / 1000 / decisions,
      schedulers:
        replicas.reduce((ms, r, i) => ms + processCpuMs(r.process.pid) - cpuBefore.schedulers[i], 0) / decisions,
      redis: ((await redisCpuMs(redis)) - cpuBefore.redis) / decisions,
    };

    const refusals =
      (await Promise.all(replicas.map((r) => claimRefusals(r.metricsPort)))).reduce((a, b) => a + b, 0) -
      refusalsBefore;
    const audit = await auditPlacement(redis);
    latencies.sort((a, b) => a - b);
    const round = (x: number) => Math.round(x * 1000) / 1000;
    const result = {
      benchmark: 'scheduler',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', node: process.version },
      hosts: cfg.hosts,
      schedulers: cfg.schedulers,
      requests: cfg.requests,
      concurrency: cfg.concurrency,
      placed,
      noValidHost,
      errors,
      seconds: round(seconds),
      decisionsPerSecond: Math.round((placed + noValidHost) / seconds),
      latencyMs: {
        p50: round(percentile(latencies, 50)),
        p90: round(percentile(latencies, 90)),
        p99: round(percentile(latencies, 99)),
        max: round(latencies.at(-1) ?? 0),
      },
      claimRefusals: refusals,
      // Where the CPU goes; with 2 cores, 1000 / (sum of these) bounds the decisions per second.
      cpuMsPerDecision: {
        client: round(cpuMsPerDecision.client),
        schedulers: round(cpuMsPerDecision.schedulers),
        redis: round(cpuMsPerDecision.redis),
      },
      loadAverage: loadavg().map(round),
      allocationsInRedis: audit.allocations,
      overCommittedHosts: audit.overCommitted.length,
      counterMismatches: audit.counterMismatches.length,
      goal: { decisionsPerSecond: 1000, overCommittedHosts: 0 },
    };
    const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'scheduler.json');
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, JSON.stringify(result, null, 2) + '\n');
    console.log(
      `scheduler: ${result.decisionsPerSecond} decisions/s over ${cfg.hosts} hosts with ${cfg.schedulers} replicas ` +
        `(${placed} placed, ${noValidHost} no valid host, ${errors} errors), p50 ${result.latencyMs.p50} ms, ` +
        `p99 ${result.latencyMs.p99} ms, ${refusals} claim refusals, over-committed hosts: ${result.overCommittedHosts}; ` +
        `CPU ms per decision: client ${result.cpuMsPerDecision.client}, schedulers ${result.cpuMsPerDecision.schedulers}, ` +
        `redis ${result.cpuMsPerDecision.redis}; load average ${result.loadAverage.join(' ')}`,
    );
    console.log(`results: ${out}`);
    if (result.overCommittedHosts > 0 || result.counterMismatches > 0 || errors > 0) process.exitCode = 1;
  } finally {
    clients.forEach((c) => c.close());
    await Promise.all(replicas.map((r) => r.stop()));
    redis.disconnect();
    await server.stop();
  }
}

await main();
