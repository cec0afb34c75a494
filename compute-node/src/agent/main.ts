#!/usr/bin/env node
// hypernova-compute: the compute agent configured from the environment; --help lists the
// settings. Prints "COMPUTE_READY host=<name> port=<grpc> metrics=<port>" once serving, for
// launchers. Stopping it (SIGINT/SIGTERM) leaves the VMs running; the next agent re-adopts them.
import { createLogger, describeConfig, loadConfig } from '@hypernova/common';
import { startComputeAgent } from './app.js';
import { agentSettings } from './config.js';

if (process.argv.includes('--help')) {
  console.log(`hypernova-compute: environment variables\n\n${describeConfig(agentSettings)}`);
  process.exit(0);
}

const config = loadConfig(agentSettings);
const logger = createLogger('compute', { level: config.logLevel });
const agent = await startComputeAgent(config, logger);
process.stdout.write(
  `COMPUTE_READY host=${agent.host.name} port=${agent.grpc.port} metrics=${agent.metrics?.port ?? -1}\n`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'stopping (VMs keep running)');
    agent.close({ markDown: true }).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
