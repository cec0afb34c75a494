// The one way services connect to Redis. Auto-pipelining batches the commands that concurrent
// requests issue in the same tick into one round trip, which is what lets a scheduler replica
// keep up with many requests in flight. With credentials: their ACL user, and for rediss://
// URLs TLS verified against the cluster CA.
import { Redis, type RedisOptions } from 'ioredis';
import { envCredentials, type ClientCredentials } from './credentials.js';
import type { Logger } from './logger.js';

export type { Redis };

export function createRedis(
  url: string,
  opts: { logger?: Logger; options?: RedisOptions; credentials?: ClientCredentials | null } = {},
): Redis {
  const creds = opts.credentials === undefined ? envCredentials() : opts.credentials;
  const auth: RedisOptions = {
    ...(creds?.redis ? { username: creds.redis.username, password: creds.redis.password } : {}),
    ...(creds && url.startsWith('rediss:') ? { tls: { ca: creds.ca } } : {}),
  };
  const redis = new Redis(url, { enableAutoPipelining: true, ...auth, ...opts.options });
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
