// The one way services connect to NATS: named connections that reconnect forever, since a
// NATS restart must not take a service down with it. With credentials: their NATS user (creds
// file) over TLS verified against the cluster CA.
import { connect, credsAuthenticator, type ConnectionOptions, type NatsConnection } from 'nats';
import { envCredentials, type ClientCredentials } from './credentials.js';
import type { Logger } from './logger.js';

export type { NatsConnection };

export async function connectNats(
  url: string,
  opts: { name?: string; logger?: Logger; credentials?: ClientCredentials | null } = {},
): Promise<NatsConnection> {
  const nc = await connect({
    servers: url,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    ...natsAuthOptions(opts.credentials),
  });
  const log = opts.logger;
  if (log) {
    void (async () => {
      for await (const s of nc.status()) log.info({ type: s.type, data: s.data }, 'nats connection status');
    })();
  }
  return nc;
}

/** The connect options that authenticate as `credentials` (default: envCredentials()): TLS and the creds file. */
export function natsAuthOptions(
  credentials?: ClientCredentials | null,
): Pick<ConnectionOptions, 'tls' | 'authenticator'> {
  const creds = credentials === undefined ? envCredentials() : credentials;
  if (!creds) return {};
  const file = typeof creds.natsCreds === 'string' ? new TextEncoder().encode(creds.natsCreds) : creds.natsCreds;
  return { tls: { ca: creds.ca.toString() }, ...(file ? { authenticator: credsAuthenticator(file) } : {}) };
}
