// Disk image backends for virtio-blk: raw files and qcow2 (v2/v3) with backing chains.

export { BlockError, checkRange, serialFromPath, type BlockBackend, type BlockErrorCode } from './backend.js';
export { DirtyLog, allocatedExtents, type Extent } from './dirty.js';
export { RawBackend, type RawOpenOptions } from './raw.js';
export { Qcow2, resolveBackingPath, type DiskFormat, type Qcow2OpenOptions } from './qcow2/image.js';
export { type Qcow2CreateOptions } from './qcow2/create.js';
export { checkQcow2, type CheckReport } from './qcow2/check.js';
export { readHeader, type Qcow2Header } from './qcow2/header.js';
export { openDisk, detectFormat, type OpenDiskOptions } from './open.js';
