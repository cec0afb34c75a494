// A real nats-server for tests, with JetStream on and its store in the server's data dir.
import { startServer, type InfraServer } from './server.js';

export function startNats(): Promise<InfraServer> {
  return startServer({
    name: 'nats-server',
    scheme: 'nats',
    binary: 'nats-server',
    image: 'nats:2.10',
    containerPort: 4222,
    ready: /Server is ready/,
    processArgs: (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
    containerCommand: () => ['-js', '-sd', '/data'],
  });
}
