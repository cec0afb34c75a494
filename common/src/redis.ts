// The one way services connect to Redis. Auto-pipelining batches the commands that concurrent
// requests issue in the same tick into one round trip, which is what lets a scheduler replica
// keep up with many requests in flight.
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

export type { Redis };

export function createRedis(url: string, opts: { logger?: Logger; options?: RedisOptions } = {}): Redis {
  const redis = new Redis(url, { enableAutoPipelining: true, ...opts.options });
  const log = opts.logger;
  if (log) {
    redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
    redis.on('ready', () => log.debug('redis ready'));
  } else {
    // An 'error' event without a listener would crash the process; ioredis reconnects by itself.
    redis.on('error', () => undefined);
  }
  return redis;
}
