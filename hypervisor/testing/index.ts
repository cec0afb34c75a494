// @hypernova/hypervisor/testing: what tests and benchmarks of the VMM and of its users share:
// the instruction encoder (as `asm`, its names are registers and mnemonics), ELF files, the
// Linux guest on a Machine and its test data, disk images and qemu-img.
export * as asm from './asm.js';
export * from './block.js';
export * from './elf-builder.js';
export * from './guest.js';
export * from './pattern.js';
export * from './fuzz-cpu.js';
export * from './mem-backend.js';
export * from './fuzz-board.js';
export * from './fuzz-corrupt.js';
