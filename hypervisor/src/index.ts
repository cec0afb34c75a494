// The VMM library's public surface.
export { Machine, type MachineExit, type MachineOptions } from './machine/machine.js';
export { MachineConfigError, type BiosChoice, type BootImages, type MachineConfig } from './machine/config.js';
export { GuestRam, PAGE_SIZE } from './bus/ram.js';
export { Hart } from './cpu/hart.js';
export { StateError, type StateSection } from './state/section.js';
export { decodeSnapshotHeader, isZeroPage, type SnapshotHeader } from './state/snapshot.js';
export * from './devices/virtio/index.js';
export * from './block/index.js';
