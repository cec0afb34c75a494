// Opening a disk image by path: format detection and backing-file chains.

import { closeSync, openSync, readSync, realpathSync } from 'node:fs';
import { BlockError, type BlockBackend } from './backend.js';
import { Qcow2, type DiskFormat } from './qcow2/image.js';
import { QCOW2_MAGIC } from './qcow2/header.js';
import { RawBackend } from './raw.js';

export interface OpenDiskOptions {
  /** Image format; detected from the file's magic when absent. */
  format?: DiskFormat;
  readOnly?: boolean;
  /** Serial for virtio-blk GET_ID (at most 20 bytes); defaults to one derived from the file name. */
  id?: string;
  /** Longest backing chain accepted below this image (default 16). */
  maxChainDepth?: number;
}

const DEFAULT_MAX_CHAIN = 16;

/** Opens an image and, for qcow2, its chain of backing files (always read-only). */
export function openDisk(path: string, opts: OpenDiskOptions = {}): BlockBackend {
  return openLink(path, opts.format, opts.readOnly ?? false, opts.id, [], opts.maxChainDepth ?? DEFAULT_MAX_CHAIN);
}

/** 'qcow2' if the file starts with the qcow2 magic, else 'raw' (the only formats we know). */
export function detectFormat(path: string): DiskFormat {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BlockError(code === 'ENOENT' ? 'ENOENT' : 'EIO', `cannot open: ${(e as Error).message}`, path, {
      cause: e,
    });
  }
  try {
    const magic = Buffer.alloc(4);
    const n = readSync(fd, magic, 0, 4, 0);
    return n === 4 && magic.readUInt32BE(0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
  } catch (e) {
    // A directory opens but does not read (EISDIR): a damaged backing file name may name one.
    throw new BlockError('EIO', `cannot read: ${(e as Error).message}`, path, { cause: e });
  } finally {
    closeSync(fd);
  }
}

interface Link {
  path: string;
  real: string;
}

function openLink(
  path: string,
  format: DiskFormat | undefined,
  readOnly: boolean,
  id: string | undefined,
  above: Link[],
  maxDepth: number,
): BlockBackend {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    const what = above.length > 0 ? `backing file of ${above[above.length - 1]!.path} not found` : 'image not found';
    throw new BlockError('ENOENT', what, path, { cause: e });
  }
  const chain = [...above, { path, real }];
  if (above.some((l) => l.real === real)) {
    throw new BlockError('ELOOP', `backing file loop: ${chain.map((l) => l.path).join(' -> ')}`, chain[0]!.path);
  }
  if (above.length > maxDepth) {
    throw new BlockError('ELOOP', `backing chain is deeper than ${maxDepth} images`, chain[0]!.path);
  }
  const fmt = format ?? detectFormat(path);
  if (fmt === 'raw') return RawBackend.open(path, { readOnly, id });
  return Qcow2.open(path, {
    readOnly,
    id,
    openBacking: (backingPath, backingFormat) => openLink(backingPath, backingFormat, true, undefined, chain, maxDepth),
  });
}
