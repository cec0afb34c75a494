#!/usr/bin/env node
// hypernova-api: the API gateway configured from the environment; --help lists the settings.
// Prints "API_READY url=<url>" once serving, for launchers.
import { runService } from '@hypernova/common';
import { startGateway } from './app.js';
import { gatewaySettings } from './config.js';

await runService({
  command: 'hypernova-api',
  name: 'api-gateway',
  settings: gatewaySettings,
  start: startGateway,
  ready: (app) => `API_READY url=${app.url}`,
  stop: (app) => app.close(),
});
