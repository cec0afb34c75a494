// @hypernova/scheduler: the scheduler library (filters, weighers, placement claims) and its
// gRPC service. Compute agents register and heartbeat their host with the re-exported registry.
export * from './app.js';
export * from './audit.js';
export * from './capacity.js';
export * from './config.js';
export * from './filters.js';
export * from './host-cache.js';
export * from './host-registry.js';
export * from './metrics.js';
export * from './placement.js';
export * from './request.js';
export * from './scheduler.js';
export * from './service.js';
export * from './weighers.js';
