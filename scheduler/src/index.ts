// @hypernova/scheduler: the scheduler library (filters, weighers, placement claims) and its
// gRPC service.
export * from './app.js';
export * from './audit.js';
export * from './capacity.js';
export * from './config.js';
export * from './filters.js';
export * from './host-cache.js';
export * from './metrics.js';
export * from './placement.js';
export * from './request.js';
export * from './scheduler.js';
export * from './service.js';
export * from './weighers.js';
