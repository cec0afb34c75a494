#!/usr/bin/env node
// hypernova-api: the API gateway configured from the environment; --help lists the settings.
// Prints "API_READY url=<url>" once serving, for launchers.
import { createLogger, describeConfig, loadConfig } from '@hypernova/common';
import { startGateway } from './app.js';
import { gatewaySettings } from './config.js';

if (process.argv.includes('--help')) {
  console.log(`hypernova-api: environment variables\n\n${describeConfig(gatewaySettings)}`);
  process.exit(0);
}

const config = loadConfig(gatewaySettings);
const logger = createLogger('api-gateway', { level: config.logLevel });
const app = await startGateway(config, logger);
process.stdout.write(`API_READY url=${app.url}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'stopping');
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
