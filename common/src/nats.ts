// The one way services connect to NATS: named connections that reconnect forever, since a
// NATS restart must not take a service down with it.
import { connect, type NatsConnection } from 'nats';
import type { Logger } from './logger.js';

export type { NatsConnection };

export async function connectNats(url: string, opts: { name?: string; logger?: Logger } = {}): Promise<NatsConnection> {
  const nc = await connect({ servers: url, name: opts.name, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
  const log = opts.logger;
  if (log) {
    void (async () => {
      for await (const s of nc.status()) log.info({ type: s.type, data: s.data }, 'nats connection status');
    })();
  }
  return nc;
}
