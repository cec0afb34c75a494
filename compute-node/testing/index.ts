// @hypernova/compute-node/testing: what tests and benchmarks of the VM process share: real
// `hypernova vm run` processes and clients of their control socket.
export * from './harness.js';
