#!/usr/bin/env node
// hypernova-scheduler: one scheduler replica configured from the environment; --help lists the
// settings. Prints "SCHEDULER_READY port=<grpc> metrics=<port>" once serving, for launchers.
import { createLogger, describeConfig, loadConfig } from '@hypernova/common';
import { startSchedulerApp } from './app.js';
import { schedulerSettings } from './config.js';

if (process.argv.includes('--help')) {
  console.log(`hypernova-scheduler: environment variables\n\n${describeConfig(schedulerSettings)}`);
  process.exit(0);
}

const config = loadConfig(schedulerSettings);
const logger = createLogger('scheduler', { level: config.logLevel });
const app = await startSchedulerApp(config, logger);
process.stdout.write(`SCHEDULER_READY port=${app.grpc.port} metrics=${app.metrics?.port ?? -1}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'stopping');
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
