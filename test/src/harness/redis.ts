// A real redis-server for tests. No persistence by default (fast); with aof, an append-only
// file fsynced on every write, to test that a Redis restart loses nothing. TLS only (rediss://)
// and ACL users from the run's credentials, the default user off.
import { createRedis, type Redis } from '@hypernova/common';
import { testCredentials } from './credentials.js';
import { startServer, type InfraServer, type ServerRecipe } from './server.js';

export interface RedisOptions {
  aof?: boolean;
}

export function startRedis(opts: RedisOptions = {}): Promise<InfraServer> {
  const persistence = opts.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const creds = testCredentials().redis;
  const auth = [
    '--tls-cert-file',
    creds.cert,
    '--tls-key-file',
    creds.key,
    '--tls-ca-cert-file',
    creds.ca,
    '--tls-auth-clients',
    'no',
    '--aclfile',
    creds.aclFile,
  ];
  const recipe: ServerRecipe = {
    name: 'redis-server',
    scheme: 'rediss',
    binary: 'redis-server',
    image: 'redis:7.2',
    containerPort: 6379,
    ready: /Ready to accept connections/,
    mounts: [testCredentials().root],
    processArgs: (port, dir) => [
      '--port',
      '0',
      '--tls-port',
      String(port),
      ...auth,
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      ...persistence,
      '--logfile',
      '',
      '--daemonize',
      'no',
    ],
    containerCommand: () => [
      'redis-server',
      '--port',
      '0',
      '--tls-port',
      '6379',
      ...auth,
      '--dir',
      '/data',
      '--save',
      '',
      ...persistence,
    ],
  };
  return startServer(recipe);
}

/**
 * A redis-server and a client for the enclosing mocha suite, started before its tests and
 * stopped after them: call in a describe body; the getter gives the client once started.
 */
export function useRedis(): () => Redis {
  let server: InfraServer | undefined;
  let redis: Redis | undefined;
  before(async () => {
    server = await startRedis();
    redis = createRedis(server.url);
  });
  after(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  return () => {
    if (!redis) throw new Error('useRedis: the suite has not started');
    return redis;
  };
}
