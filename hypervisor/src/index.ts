// The VMM library's public surface.
export { Machine, type MachineExit, type MachineOptions } from './machine/machine.js';
export { ConfigError, type BiosChoice, type BootImages, type MachineConfig } from './machine/config.js';
export { GuestRam } from './bus/ram.js';
export { Hart } from './cpu/hart.js';
