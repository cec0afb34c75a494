// The generated contracts, one namespace per proto package so message names never collide.
export * as compute from './gen/hypernova/compute/v1/compute.js';
export * as scheduler from './gen/hypernova/scheduler/v1/scheduler.js';
export * as health from './gen/grpc/health/v1/health.js';
