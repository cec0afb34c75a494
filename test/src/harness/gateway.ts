// An API gateway as its own OS process (the built hypernova-api), so that a test can kill it as
// a crash would; tests start the gateways that stay up in-process.
import { fileURLToPath } from 'node:url';
import { credentialsEnv } from './credentials.js';
import { startProcess, type ManagedProcess } from './process.js';

export interface GatewayProcess {
  /** http://host:port it serves at. */
  readonly url: string;
  readonly process: ManagedProcess;
}

/** `env`: the gateway's settings (see `hypernova-api --help`). */
export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const main = fileURLToPath(new URL('./main.js', import.meta.resolve('@hypernova/api-gateway')));
  const proc = await startProcess({
    name: 'api-gateway',
    command: process.execPath,
    args: [main],
    env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', ...credentialsEnv('gateway'), ...env },
    ready: /API_READY url=(\S+)/,
  });
  return { url: proc.ready[1]!, process: proc };
}
