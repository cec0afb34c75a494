// The scheduler's settings (environment variables with documented defaults).
import { infraSettings, int, num, str } from '@hypernova/common';
import { ALL_FILTERS } from './filters.js';

export const schedulerSettings = {
  redisUrl: infraSettings.redisUrl,
  credentialsDir: infraSettings.credentialsDir,
  logLevel: infraSettings.logLevel,
  metricsPort: infraSettings.metricsPort,
  grpcAddress: str(
    'SCHEDULER_GRPC_ADDRESS',
    '0.0.0.0:50051',
    'host:port the Scheduler gRPC server binds (port 0: a free port)',
  ),
  hostRefreshMs: int(
    'SCHEDULER_HOST_REFRESH_MS',
    1000,
    'period of the background re-read of every host record from Redis',
  ),
  hostSubsetSize: int(
    'SCHEDULER_HOST_SUBSET_SIZE',
    1,
    'choose at random among the best N hosts (Nova host_subset_size)',
  ),
  maxClaimAttempts: int(
    'SCHEDULER_MAX_CLAIM_ATTEMPTS',
    16,
    'claims tried on successive hosts before re-reading the hosts',
  ),
  numAlternates: int(
    'SCHEDULER_NUM_ALTERNATES',
    2,
    'alternates returned besides the chosen host when the request does not say',
  ),
  enabledFilters: str(
    'SCHEDULER_ENABLED_FILTERS',
    ALL_FILTERS.map((f) => f.name).join(','),
    'comma-separated filters, run in this order',
  ),
  ramWeightMultiplier: num('SCHEDULER_RAM_WEIGHT_MULTIPLIER', 1, 'free RAM weigher; > 0 spreads, < 0 stacks'),
  cpuWeightMultiplier: num('SCHEDULER_CPU_WEIGHT_MULTIPLIER', 1, 'free vCPU weigher; > 0 spreads, < 0 stacks'),
  diskWeightMultiplier: num('SCHEDULER_DISK_WEIGHT_MULTIPLIER', 1, 'free disk weigher; > 0 spreads, < 0 stacks'),
  softAffinityWeightMultiplier: num(
    'SCHEDULER_SOFT_AFFINITY_WEIGHT_MULTIPLIER',
    1,
    'soft-affinity groups: pull toward members',
  ),
  softAntiAffinityWeightMultiplier: num(
    'SCHEDULER_SOFT_ANTI_AFFINITY_WEIGHT_MULTIPLIER',
    1,
    'soft-anti-affinity groups: push away from members',
  ),
};
