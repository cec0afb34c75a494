// A read-only consistency check in the manner of `qemu-img check`: recompute every cluster's
// reference count from the L1/L2 tables (active and snapshots), the refcount structures, the
// snapshot table and bitmaps, and compare with the stored refcounts. Messages and counts
// follow qemu-img's, so its users read ours the same way.

import { HostFile } from '../file.js';
import { readL1, readL2 } from './entries.js';
import { AUTOCLEAR_BITMAPS, align, readHeader, view, type Qcow2Header } from './header.js';
import { Refcounts } from './refcounts.js';
import { readSnapshots } from './snapshots.js';

export interface CheckReport {
  filename: string;
  format: 'qcow2';
  /** Inconsistencies that can lose data (qemu-img's "errors"). */
  corruptions: number;
  /** Clusters with a refcount but no reference: wasted space only. */
  leaks: number;
  checkErrors: number;
  /** Per-problem lines, as qemu-img prints them on stderr. */
  messages: string[];
  imageEndOffset: number;
  totalClusters: number;
  allocatedClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
}

const hex = (n: number): string => n.toString(16);

export function checkQcow2(path: string): CheckReport {
  const file = HostFile.open(path, true);
  try {
    return check(file, readHeader(file));
  } finally {
    file.close();
  }
}

function check(file: HostFile, h: Qcow2Header): CheckReport {
  const cs = 2 ** h.clusterBits;
  const nbClusters = Math.ceil(file.size / cs);
  const r: CheckReport = {
    filename: file.path,
    format: 'qcow2',
    corruptions: 0,
    leaks: 0,
    checkErrors: 0,
    messages: [],
    imageEndOffset: 0,
    totalClusters: Math.ceil(h.size / cs),
    allocatedClusters: 0,
    fragmentedClusters: 0,
    compressedClusters: 0,
  };
  const error = (msg: string): void => {
    r.corruptions++;
    r.messages.push(msg);
  };
  const refcounts = Refcounts.load(
    file,
    {
      clusterBits: h.clusterBits,
      refcountOrder: h.refcountOrder,
      tableOffset: h.refcountTableOffset,
      tableClusters: h.refcountTableClusters,
    },
    { flushAll: () => {}, metadataAt: () => undefined },
    { strict: false, cacheTables: 64 },
  );
  const computed = new Float64Array(nbClusters);
  const reference = (offset: number, bytes: number): void => {
    if (bytes <= 0) return;
    const last = Math.floor((offset + bytes - 1) / cs);
    for (let k = Math.floor(offset / cs); k <= last; k++) {
      if (k >= nbClusters) {
        error(
          `ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x${hex(k * cs)} size 0x${hex(cs)}`,
        );
        return;
      }
      if (computed[k]! >= refcounts.max) {
        error(`ERROR: overflow cluster offset=0x${hex(k * cs)}`);
        continue;
      }
      computed[k]!++;
    }
  };

  reference(0, cs);
  // Active tables: counted, and the source of the allocation statistics.
  let nextContiguous = 0;
  walkL1(file, h, h.l1TableOffset, h.l1Size, reference, error, (host, compressed) => {
    r.allocatedClusters++;
    if (compressed) {
      r.compressedClusters++;
      return;
    }
    if (nextContiguous !== 0 && host !== nextContiguous) r.fragmentedClusters++;
    nextContiguous = host + cs;
  });
  if (h.nbSnapshots > 0) {
    const snaps = readSnapshots(file, h);
    reference(h.snapshotsOffset, snaps.bytes);
    for (const s of snaps.snapshots) walkL1(file, h, s.l1Offset, s.l1Size, reference, error);
  }
  reference(h.refcountTableOffset, h.refcountTableClusters * cs);
  for (const bad of refcounts.badEntries) {
    if (bad.problem === 'reserved') error(`ERROR refcount table entry ${bad.index} has reserved bits set`);
    else if (bad.problem === 'unaligned')
      error(`ERROR refcount block ${bad.index} is not cluster aligned; refcount table entry corrupted`);
    else error(`ERROR refcount block ${bad.index} is outside image`);
  }
  for (let i = 0; i < refcounts.tableEntries; i++)
    reference(refcounts.blockOffset(i), refcounts.blockOffset(i) ? cs : 0);
  // Bitmaps count only while consistent: once a program without bitmap support (like us)
  // cleared the autoclear bit, their clusters are leaks, exactly as qemu-img sees them.
  if (h.bitmaps && h.autoclearFeatures & AUTOCLEAR_BITMAPS) walkBitmaps(file, h, reference);

  for (let k = 0; k < nbClusters; k++) {
    const stored = refcounts.get(k);
    const counted = computed[k]!;
    if (stored === counted) continue;
    if (stored > counted) {
      r.leaks++;
      r.messages.push(`Leaked cluster ${k} refcount=${stored} reference=${counted}`);
    } else {
      error(`ERROR cluster ${k} refcount=${stored} reference=${counted}`);
    }
  }
  checkCopiedFlags(file, h, refcounts, error);
  r.imageEndOffset = refcounts.endCluster() * cs;
  return r;
}

type Reference = (offset: number, bytes: number) => void;
type Report = (msg: string) => void;

/** Counts an L1 table, its L2 tables and their clusters; `allocated` sees each active data cluster. */
function walkL1(
  file: HostFile,
  h: Qcow2Header,
  l1Offset: number,
  l1Size: number,
  reference: Reference,
  error: Report,
  allocated?: (host: number, compressed: boolean) => void,
): void {
  const cs = 2 ** h.clusterBits;
  reference(l1Offset, l1Size * 8);
  const l1 = new Uint8Array(l1Size * 8);
  file.readPadded(l1Offset, l1);
  const l1v = view(l1);
  const l2 = new Uint8Array(cs);
  const l2v = view(l2);
  for (let i = 0; i < l1Size; i++) {
    const e = readL1(l1v, i);
    if (e.l2Offset === 0) continue;
    if (e.problem || e.l2Offset % cs !== 0) {
      error(`ERROR l2_offset=${hex(e.l2Offset)}: Table is not cluster aligned; L1 entry corrupted`);
      continue;
    }
    reference(e.l2Offset, cs);
    if (e.l2Offset >= file.size) continue;
    file.readPadded(e.l2Offset, l2);
    for (let j = 0; j < cs / 8; j++) {
      const d = readL2(l2v, j, h.clusterBits, h.version);
      if (d.kind === 'compressed') {
        if (d.copied) error(`ERROR: coffset=0x${hex(d.host)}: copied flag must never be set for compressed clusters`);
        reference(d.host - (d.host % 512), d.compressedBytes);
        allocated?.(d.host, true);
        continue;
      }
      if (d.problem) {
        error(`ERROR offset=${hex(d.host)}: L2 entry corrupted (${d.problem})`);
        continue;
      }
      if (d.host === 0) continue; // unallocated, or zero without preallocation
      if (d.host % cs !== 0) {
        error(`ERROR offset=${hex(d.host)}: Cluster is not properly aligned; L2 entry corrupted.`);
        continue;
      }
      reference(d.host, cs);
      allocated?.(d.host, false);
    }
  }
}

/** The active tables' copied flags must say exactly "refcount is 1". */
function checkCopiedFlags(file: HostFile, h: Qcow2Header, refcounts: Refcounts, error: Report): void {
  const cs = 2 ** h.clusterBits;
  const l1 = new Uint8Array(h.l1Size * 8);
  file.readPadded(h.l1TableOffset, l1);
  const l1v = view(l1);
  const l2 = new Uint8Array(cs);
  const l2v = view(l2);
  for (let i = 0; i < h.l1Size; i++) {
    const e = readL1(l1v, i);
    if (e.l2Offset === 0 || e.problem || e.l2Offset % cs !== 0) continue;
    const rc = refcounts.get(e.l2Offset / cs);
    if ((rc === 1) !== e.copied) {
      error(
        `ERROR OFLAG_COPIED L2 cluster: l1_index=${i} l1_entry=${l1v.getBigUint64(i * 8).toString(16)} refcount=${rc}`,
      );
    }
    if (e.l2Offset >= file.size) continue;
    file.readPadded(e.l2Offset, l2);
    for (let j = 0; j < cs / 8; j++) {
      const d = readL2(l2v, j, h.clusterBits, h.version);
      if (d.kind === 'compressed' || d.problem || d.host === 0 || d.host % cs !== 0) continue;
      const drc = refcounts.get(d.host / cs);
      if ((drc === 1) !== d.copied)
        error(`ERROR OFLAG_COPIED data cluster: l2_entry=${l2v.getBigUint64(j * 8).toString(16)} refcount=${drc}`);
    }
  }
}

/** Persistent dirty bitmaps own clusters too: the directory, each bitmap table and its data. */
function walkBitmaps(file: HostFile, h: Qcow2Header, reference: Reference): void {
  const cs = 2 ** h.clusterBits;
  const b = h.bitmaps!;
  if (b.directorySize > 64 << 20) return;
  reference(b.directoryOffset, b.directorySize);
  const dir = new Uint8Array(b.directorySize);
  file.readPadded(b.directoryOffset, dir);
  const dv = view(dir);
  for (let pos = 0, n = 0; n < b.nbBitmaps && pos + 24 <= dir.length; n++) {
    const tableOffset = Number(dv.getBigUint64(pos));
    const tableSize = dv.getUint32(pos + 8);
    const nameSize = dv.getUint16(pos + 18);
    const extra = dv.getUint32(pos + 20);
    reference(tableOffset, tableSize * 8);
    const table = new Uint8Array(tableSize * 8);
    file.readPadded(tableOffset, table);
    const tv = view(table);
    for (let i = 0; i < tableSize; i++) {
      const off = Number(tv.getBigUint64(i * 8) & 0x00fffffffffffe00n);
      if (off) reference(off, cs);
    }
    pos += align(24 + extra + nameSize, 8);
  }
}
