// The VM process (like the QEMU process under libvirt): what `hypernova vm run` runs, and the
// control protocol its supervisor speaks.
export { runVmProcess, runNetHub, NET_HUB_USAGE, type AttachTerminal, type RunHooks } from './run.js';
export { parseVmArgs, RUN_USAGE, UsageError, type VmOptions, type DiskSpec, type NetSpec } from './options.js';
export { VmProcess } from './vm-process.js';
export { ControlServer } from './control-server.js';
export { SocketNetBackend, NetHub, FrameReader } from './net-socket.js';
export * from './protocol.js';
