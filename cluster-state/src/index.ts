// @hypernova/cluster-state: the cluster's records and their Redis storage (instances, hosts,
// migrations, images, networks), apart from @hypernova/common so a service depends only on what it uses.
export * from './host-registry.js';
export * from './instances.js';
export * from './images.js';
export * from './image-store.js';
export * from './migrations.js';
export * from './network/index.js';
