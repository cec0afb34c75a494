// @hypernova/api-gateway: the public HTTP API (Keystone v3, Nova v2.1, images proxy).
export * from './app.js';
export * from './config.js';
export type { Gateway } from './context.js';
export { MAX_VERSION, MIN_VERSION } from './compute/microversion.js';
export { statusOf } from './compute/state-machine.js';
export { Tasks } from './compute/tasks.js';
export { DEFAULT_FLAVORS } from './compute/flavors.js';
export { spawnRequest } from './compute/build.js';
export { DEVSTACK, ensureDevstackNetworks } from './network/devstack.js';
