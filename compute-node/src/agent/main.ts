#!/usr/bin/env node
// hypernova-compute: the compute agent configured from the environment; --help lists the
// settings. Prints "COMPUTE_READY host=<name> port=<grpc> metrics=<port>" once serving, for
// launchers. Stopping it (SIGINT/SIGTERM) leaves the VMs running; the next agent re-adopts them.
import { runService } from '@hypernova/common';
import { startComputeAgent } from './app.js';
import { agentSettings } from './config.js';

await runService({
  command: 'hypernova-compute',
  name: 'compute',
  settings: agentSettings,
  start: startComputeAgent,
  ready: (agent) =>
    `COMPUTE_READY host=${agent.host.name} port=${agent.grpc.port} metrics=${agent.metrics?.port ?? -1}`,
  stop: (agent) => agent.close({ markDown: true }),
  stopping: 'stopping (VMs keep running)',
});
