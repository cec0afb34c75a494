// Prometheus metrics: one registry per service (labelled with the service's name) served on
// GET /metrics by a tiny HTTP server, so every process can be scraped the same way.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

export function createMetricsRegistry(service: string, opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  registry.registerMetric(suppressedErrors);
  return registry;
}

/**
 * Errors a service logged and carried on after (best-effort cleanup and state writes). One
 * process-wide counter, served by every service registry, so a rising rate shows on /metrics
 * even when nobody reads the logs.
 */
export const suppressedErrors = new Counter({
  name: 'hypernova_suppressed_errors_total',
  help: 'Errors logged and carried on after, by component and operation',
  labelNames: ['component', 'op'] as const,
  registers: [],
});

/**
 * The catch handler for an error deliberately not propagated: it is counted and logged (with
 * `context`, e.g. the instance id) instead of dropped. `op` names what failed, as a metric label.
 */
export function suppressed(
  log: Pick<Logger, 'warn' | 'debug'>,
  component: string,
  op: string,
  context: Record<string, unknown> = {},
  level: 'warn' | 'debug' = 'warn',
): (err: unknown) => void {
  return (err) => {
    suppressedErrors.inc({ component, op });
    log[level]({ ...context, component, op, err: errorMessage(err) }, `${op} failed; carrying on`);
  };
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `registry` on http://host:port/metrics; port 0 picks a free port (see `.port`). */
export async function serveMetrics(registry: Registry, port: number, host = '0.0.0.0'): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
