#!/usr/bin/env node
// hypernova-scheduler: one scheduler replica configured from the environment; --help lists the
// settings. Prints "SCHEDULER_READY port=<grpc> metrics=<port>" once serving, for launchers.
import { runService } from '@hypernova/common';
import { startSchedulerApp } from './app.js';
import { schedulerSettings } from './config.js';

await runService({
  command: 'hypernova-scheduler',
  name: 'scheduler',
  settings: schedulerSettings,
  start: startSchedulerApp,
  ready: (app) => `SCHEDULER_READY port=${app.grpc.port} metrics=${app.metrics?.port ?? -1}`,
  stop: (app) => app.close(),
});
