// A real nats-server for tests, with JetStream on and its store in the server's data dir; in
// operator mode with TLS from the run's credentials (auth.conf).
import { testCredentials } from './credentials.js';
import { startServer, type InfraServer } from './server.js';

export function startNats(): Promise<InfraServer> {
  const { root, nats } = testCredentials();
  return startServer({
    name: 'nats-server',
    scheme: 'nats',
    binary: 'nats-server',
    image: 'nats:2.10',
    containerPort: 4222,
    ready: /Server is ready/,
    mounts: [root],
    processArgs: (port, dir) => ['-c', nats.config, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
    containerCommand: () => ['-c', nats.config, '-js', '-sd', '/data'],
  });
}
