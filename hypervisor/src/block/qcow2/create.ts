// Writing a new, empty qcow2 v3 image: header, refcount table, refcount blocks, L1 table.

import { BlockError } from '../backend.js';
import { HostFile } from '../file.js';
import { MAX_BACKING_NAME, MAX_CLUSTER_BITS, MAX_L1_BYTES, MIN_CLUSTER_BITS, encodeHeader, view } from './header.js';

export interface Qcow2CreateOptions {
  /** Virtual size in bytes; rounded up to a multiple of 512 like qemu-img does. */
  size: number;
  /** log2 of the cluster size: 9 (512 B) .. 21 (2 MiB); default 16 (64 KiB). */
  clusterBits?: number;
  /** Backing file name as stored in the image: relative names are relative to the image's directory. */
  backingFile?: string;
  backingFormat?: 'raw' | 'qcow2';
  /** Refcount width in bits: 1, 2, 4, 8, 16 (default), 32 or 64. */
  refcountBits?: number;
}

export function createQcow2(path: string, opts: Qcow2CreateOptions): void {
  const clusterBits = opts.clusterBits ?? 16;
  if (!Number.isInteger(clusterBits) || clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    throw new BlockError('EFORMAT', `cluster size must be a power of two between 512 bytes and 2 MiB`, path);
  }
  const refcountBits = opts.refcountBits ?? 16;
  const refcountOrder = Math.log2(refcountBits);
  if (!Number.isInteger(refcountOrder) || refcountOrder < 0 || refcountOrder > 6) {
    throw new BlockError(
      'EFORMAT',
      `refcount width must be a power of two between 1 and 64 bits (got ${refcountBits})`,
      path,
    );
  }
  if (!Number.isSafeInteger(opts.size) || opts.size < 0)
    throw new BlockError('ERANGE', `invalid image size ${opts.size}`, path);
  const size = Math.ceil(opts.size / 512) * 512;
  if (
    opts.backingFile !== undefined &&
    (opts.backingFile === '' || Buffer.byteLength(opts.backingFile) > MAX_BACKING_NAME)
  ) {
    throw new BlockError('EFORMAT', `backing file name must be 1..${MAX_BACKING_NAME} bytes`, path);
  }
  if (opts.backingFormat !== undefined && opts.backingFile === undefined) {
    throw new BlockError('EFORMAT', 'a backing format needs a backing file', path);
  }

  const cs = 2 ** clusterBits;
  const l1Size = Math.ceil(size / (cs * (cs / 8)));
  if (l1Size * 8 > MAX_L1_BYTES)
    throw new BlockError('ERANGE', `size ${size} needs an L1 table over 32 MiB; use a bigger cluster size`, path);
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const perBlock = (cs * 8) / refcountBits;
  // Layout: header | refcount table | refcount blocks | L1 table. Find the smallest table and
  // block counts that cover all of it.
  let tableClusters = 1;
  let blocks = 1;
  for (;;) {
    const total = 1 + tableClusters + blocks + l1Clusters;
    const b = Math.ceil(total / perBlock);
    const t = Math.ceil((b * 8) / cs);
    if (b === blocks && t === tableClusters) break;
    blocks = Math.max(b, 1);
    tableClusters = Math.max(t, 1);
  }
  const tableOffset = cs;
  const blocksOffset = tableOffset + tableClusters * cs;
  const l1Offset = l1Size > 0 ? blocksOffset + blocks * cs : 0;
  const used = 1 + tableClusters + blocks + l1Clusters;

  const header = encodeHeader({
    size,
    clusterBits,
    refcountOrder,
    l1Size,
    l1TableOffset: l1Offset,
    refcountTableOffset: tableOffset,
    refcountTableClusters: tableClusters,
    backingFile: opts.backingFile,
    backingFormat: opts.backingFormat,
  });
  const table = new Uint8Array(tableClusters * cs);
  for (let i = 0; i < blocks; i++) view(table).setBigUint64(i * 8, BigInt(blocksOffset + i * cs));
  const refBlocks = new Uint8Array(blocks * cs);
  for (let c = 0; c < used; c++) setRefcountOne(refBlocks, c, refcountBits);

  const file = HostFile.create(path);
  try {
    file.write(0, header);
    file.write(tableOffset, table);
    file.write(blocksOffset, refBlocks);
    // The L1 table is all zeroes: sizing the file is enough (as QEMU does, up to its last byte).
    file.truncate(l1Size > 0 ? l1Offset + l1Size * 8 : blocksOffset + blocks * cs);
    file.datasync();
  } finally {
    file.close();
  }
}

/** Sets refcount 1 for cluster c in a run of consecutive refcount blocks. */
function setRefcountOne(blocks: Uint8Array, c: number, bits: number): void {
  const bit = c * bits; // refcount blocks are consecutive, so the entries are too
  if (bits >= 8) {
    blocks[(bit >> 3) + bits / 8 - 1] = 1; // big-endian: the last byte holds the low bits
  } else {
    blocks[bit >> 3]! |= 1 << (bit & 7);
  }
}
