// @hypernova/common: what every service shares. Keep it small.
export * from './config.js';
export * from './errors.js';
export * from './logger.js';
export * from './metrics.js';
export * from './redis.js';
export * from './redis-script.js';
export * from './json-hash.js';
export * from './nats.js';
export * from './redis-keys.js';
export * from './subjects.js';
export * from './health.js';
export * from './grpc-server.js';
export * from './grpc-client.js';
export * from './service.js';
export * from './leases.js';
