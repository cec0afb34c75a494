// A qcow2 image as a BlockBackend: guest clusters map through L1 and L2 tables to host
// clusters, allocated on first write, copied on write from the backing file or from clusters
// shared with internal snapshots.
//
// Metadata is cached write-back and reaches the disk only in flushMetadata, in an order that
// keeps the image consistent at every step (see refcounts.ts): guest data, refcount
// increments, L2 tables, L1 table, then refcount decrements.

import { inflateRawSync, constants as zlibConstants } from 'node:zlib';
import { BlockError, checkRange, checkSerial, serialFromPath, type BlockBackend } from '../backend.js';
import { DirtyLog, type Extent } from '../dirty.js';
import { HostFile } from '../file.js';
import { TableCache, type CachedTable } from './cache.js';
import { createQcow2, type Qcow2CreateOptions } from './create.js';
import { readL1, readL2, writeL1, writeL2, type L2Entry } from './entries.js';
import {
  COMPAT_LAZY_REFCOUNTS,
  FIELD,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  readHeader,
  view,
  type Qcow2Header,
} from './header.js';
import { Refcounts } from './refcounts.js';
import { readSnapshots, type SnapshotTable } from './snapshots.js';

export type DiskFormat = 'raw' | 'qcow2';

export interface Qcow2OpenOptions {
  readOnly?: boolean;
  /** Serial for GET_ID; defaults to one derived from the file name. */
  id?: string;
  /** Opens the backing file (openDisk passes its own chain-aware opener). */
  openBacking?: (path: string, format: DiskFormat | undefined) => BlockBackend;
  /** Read unallocated clusters as zeroes instead of opening the backing file (tools only). */
  ignoreBacking?: boolean;
  /** Bytes of L2 tables to cache; default 32 MiB. */
  l2CacheBytes?: number;
}

const DEFAULT_L2_CACHE = 32 << 20;
const REFCOUNT_CACHE = 4 << 20;

export class Qcow2 implements BlockBackend {
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly id: string;
  readonly header: Readonly<Qcow2Header>;
  readonly clusterSize: number;
  /** Where the backing file was looked for (relative to this image's directory, as QEMU does). */
  readonly backingPath: string | undefined;
  readonly snapshots: Readonly<SnapshotTable>;
  readonly dirtyLog: DirtyLog;
  private readonly backing: BlockBackend | undefined;
  private readonly file: HostFile;
  private readonly refcounts: Refcounts;
  private readonly l2Entries: number;
  private readonly l1: Uint8Array;
  private readonly l1View: DataView;
  private readonly dirtyL1 = new Set<number>();
  /** Active L2 table offsets: metadata that guest data must never overwrite. */
  private readonly l2Offsets = new Set<number>();
  /** L2 tables of internal snapshots: also never to be overwritten. */
  private readonly snapshotL2Offsets = new Set<number>();
  private readonly l2Cache: TableCache;
  private lastCompressed: { host: number; data: Uint8Array } | undefined;
  private flushing = false;
  private closed = false;
  /** Set when a write found the image inconsistent: refuse further writes rather than make it worse. */
  private broken: string | undefined;

  private constructor(file: HostFile, header: Qcow2Header, opts: Qcow2OpenOptions) {
    this.file = file;
    this.header = header;
    this.readOnly = file.readOnly;
    this.sizeBytes = header.size;
    this.clusterSize = 2 ** header.clusterBits;
    this.l2Entries = this.clusterSize / 8;
    this.dirtyLog = new DirtyLog(this.sizeBytes);
    this.id = checkSerial(opts.id ?? serialFromPath(file.path));
    this.snapshots = header.nbSnapshots > 0 ? readSnapshots(file, header) : { snapshots: [], bytes: 0 };
    this.l1 = new Uint8Array(header.l1Size * 8);
    file.readExact(header.l1TableOffset, this.l1, 'L1 table');
    this.l1View = view(this.l1);
    for (let i = 0; i < header.l1Size; i++) {
      const e = readL1(this.l1View, i);
      if (e.l2Offset !== 0) this.l2Offsets.add(e.l2Offset);
    }
    for (const snap of this.snapshots.snapshots) {
      const l1 = new Uint8Array(snap.l1Size * 8);
      file.readPadded(snap.l1Offset, l1);
      const v = view(l1);
      for (let i = 0; i < snap.l1Size; i++) {
        const e = readL1(v, i);
        if (e.l2Offset !== 0) this.snapshotL2Offsets.add(e.l2Offset);
      }
    }
    const tables = (bytes: number): number => Math.max(16, Math.floor(bytes / this.clusterSize));
    this.l2Cache = new TableCache(tables(opts.l2CacheBytes ?? DEFAULT_L2_CACHE), () => this.flushMetadata());
    this.refcounts = Refcounts.load(
      file,
      {
        clusterBits: header.clusterBits,
        refcountOrder: header.refcountOrder,
        tableOffset: header.refcountTableOffset,
        tableClusters: header.refcountTableClusters,
      },
      { flushAll: () => this.flushMetadata(), metadataAt: (off) => this.metadataAt(off) },
      { strict: true, cacheTables: tables(REFCOUNT_CACHE) },
    );
    this.backingPath = header.backingFile === undefined ? undefined : resolveBackingPath(file.path, header.backingFile);
    if (this.backingPath !== undefined && !opts.ignoreBacking) {
      if (!opts.openBacking)
        throw new BlockError('EUNSUPPORTED', 'image has a backing file; open it with openDisk', file.path);
      const fmt = header.backingFormat;
      if (fmt !== undefined && fmt !== 'raw' && fmt !== 'qcow2') {
        throw new BlockError('EUNSUPPORTED', `backing file format "${fmt}" is not supported (raw or qcow2)`, file.path);
      }
      this.backing = opts.openBacking(this.backingPath, fmt);
    }
  }

  static open(path: string, opts: Qcow2OpenOptions = {}): Qcow2 {
    const readOnly = opts.readOnly ?? false;
    const file = HostFile.open(path, readOnly);
    try {
      const header = readHeader(file);
      if (!readOnly) {
        if (header.incompatibleFeatures & INCOMPAT_CORRUPT) {
          throw new BlockError(
            'ECORRUPT',
            'image is marked corrupt and cannot be opened read/write (repair it with qemu-img check -r all)',
            path,
          );
        }
        if (header.incompatibleFeatures & INCOMPAT_DIRTY) {
          throw new BlockError(
            'EUNSUPPORTED',
            'image is marked dirty (lazy refcounts were in use when it was last closed); repair it with qemu-img check -r all before opening it read/write',
            path,
          );
        }
      }
      const img = new Qcow2(file, header, opts);
      if (!readOnly && header.autoclearFeatures !== 0n) {
        try {
          img.clearAutoclear();
        } catch (e) {
          img.backing?.close();
          throw e;
        }
      }
      return img;
    } catch (e) {
      file.close();
      throw e;
    }
  }

  static create(path: string, opts: Qcow2CreateOptions): void {
    createQcow2(path, opts);
  }

  get path(): string {
    return this.file.path;
  }

  get version(): 2 | 3 {
    return this.header.version;
  }

  get refcountBits(): number {
    return this.refcounts.bits;
  }

  get lazyRefcounts(): boolean {
    return (this.header.compatibleFeatures & COMPAT_LAZY_REFCOUNTS) !== 0n;
  }

  get backingFile(): BlockBackend | undefined {
    return this.backing;
  }

  allocatedBytes(): number {
    return this.file.allocatedBytes();
  }

  /** How a guest cluster is stored: for convert (skip zeroes) and tests. */
  clusterKind(guestOffset: number): L2Entry['kind'] {
    checkRange(this.sizeBytes, guestOffset, 0, this.file.path);
    return this.lookup(Math.floor(guestOffset / this.clusterSize)).kind;
  }

  /** The guest ranges this image's own clusters hold (data or zero clusters), merged; never the backing file's. */
  allocatedExtents(): Extent[] {
    this.checkOpen();
    const out: Extent[] = [];
    const cs = this.clusterSize;
    for (let l1i = 0; l1i < this.header.l1Size; l1i++) {
      const t = this.l2Table(l1i, false);
      if (!t) continue;
      for (let l2i = 0; l2i < this.l2Entries; l2i++) {
        const ci = l1i * this.l2Entries + l2i;
        const offset = ci * cs;
        if (offset >= this.sizeBytes) break;
        const kind = this.entry(t, l2i, ci).kind;
        if (kind === 'unallocated') continue;
        const zero = kind === 'zero';
        const length = Math.min(cs, this.sizeBytes - offset);
        const last = out[out.length - 1];
        if (last && last.zero === zero && last.offset + last.length === offset) last.length += length;
        else out.push({ offset, length, zero });
      }
    }
    return out;
  }

  read(offset: number, dst: Uint8Array): void {
    this.checkOpen();
    checkRange(this.sizeBytes, offset, dst.length, this.file.path);
    const cs = this.clusterSize;
    for (let pos = 0; pos < dst.length;) {
      const g = offset + pos;
      const ci = Math.floor(g / cs);
      const inner = g % cs;
      const n = Math.min(cs - inner, dst.length - pos);
      const part = dst.subarray(pos, pos + n);
      const e = this.lookup(ci);
      switch (e.kind) {
        case 'unallocated':
          this.readBacking(g, part);
          break;
        case 'zero':
          part.fill(0);
          break;
        case 'normal':
          this.checkDataCluster(e.host, ci);
          this.file.readPadded(e.host + inner, part);
          break;
        case 'compressed':
          part.set(this.decompress(e, ci).subarray(inner, inner + n));
          break;
      }
      pos += n;
    }
  }

  write(offset: number, src: Uint8Array): void {
    this.checkWritable();
    checkRange(this.sizeBytes, offset, src.length, this.file.path);
    this.dirtyLog.note(offset, src.length);
    this.guarded(() => {
      const cs = this.clusterSize;
      for (let pos = 0; pos < src.length;) {
        const g = offset + pos;
        const inner = g % cs;
        const n = Math.min(cs - inner, src.length - pos);
        this.writeCluster(Math.floor(g / cs), inner, src.subarray(pos, pos + n));
        pos += n;
      }
    });
  }

  writeZeroes(offset: number, length: number, mayUnmap: boolean): void {
    this.checkWritable();
    checkRange(this.sizeBytes, offset, length, this.file.path);
    this.dirtyLog.note(offset, length);
    this.guarded(() => {
      this.forClusters(offset, length, (ci, inner, n, whole) => {
        if (whole) this.zeroCluster(ci, mayUnmap);
        else if (!this.readsAsZero(ci)) this.writeCluster(ci, inner, new Uint8Array(n));
      });
    });
  }

  /** Deallocates whole clusters; partial clusters are left alone (discard is only a hint). */
  discard(offset: number, length: number): void {
    this.checkWritable();
    checkRange(this.sizeBytes, offset, length, this.file.path);
    this.dirtyLog.note(offset, length);
    this.guarded(() => {
      this.forClusters(offset, length, (ci, _inner, _n, whole) => {
        if (whole) this.discardCluster(ci);
      });
    });
  }

  flush(): void {
    this.checkOpen();
    if (this.readOnly) return;
    this.flushMetadata();
  }

  close(): void {
    if (this.closed) return;
    try {
      // Even after a corruption was found: every error is raised before the in-memory
      // metadata stops being consistent, so what is flushed is the guest's completed writes.
      if (!this.readOnly) this.flushMetadata();
    } finally {
      this.closed = true;
      this.l2Cache.clear();
      try {
        this.file.close();
      } finally {
        this.backing?.close();
      }
    }
  }

  // ---- mapping ---------------------------------------------------------------------------

  private lookup(ci: number): L2Entry {
    const l1i = Math.floor(ci / this.l2Entries);
    const t = this.l2Table(l1i, false);
    if (!t) return { kind: 'unallocated', host: 0, copied: false, compressedBytes: 0 };
    return this.entry(t, ci % this.l2Entries, ci);
  }

  private entry(t: CachedTable, l2i: number, ci: number): L2Entry {
    const e = readL2(t.view, l2i, this.header.clusterBits, this.header.version);
    if (e.problem) this.corrupt(`guest cluster ${ci} (L2 table at 0x${t.offset.toString(16)}): ${e.problem}`);
    return e;
  }

  /**
   * The L2 table for an L1 index. For writing it must be ours alone: a missing table is
   * allocated, one shared with a snapshot (copied flag clear) is copied first.
   */
  private l2Table(l1i: number, forWrite: boolean): CachedTable | undefined {
    const e = readL1(this.l1View, l1i);
    if (e.problem) this.corrupt(e.problem);
    if (e.l2Offset === 0) {
      if (!forWrite) return undefined;
      const offset = this.refcounts.allocate();
      const t = this.l2Cache.insert(offset, new Uint8Array(this.clusterSize), true);
      this.setL1(l1i, offset);
      return t;
    }
    const t = this.loadL2(e.l2Offset, l1i);
    if (!forWrite || e.copied) return t;
    const copy = new Uint8Array(t.data);
    const offset = this.refcounts.allocate();
    const fresh = this.l2Cache.insert(offset, copy, true);
    this.setL1(l1i, offset);
    this.l2Offsets.delete(e.l2Offset);
    this.l2Cache.forget(e.l2Offset);
    this.refcounts.free(e.l2Offset, this.clusterSize);
    return fresh;
  }

  private loadL2(offset: number, l1i: number): CachedTable {
    const cached = this.l2Cache.get(offset);
    if (cached) return cached;
    const where = `L2 table of L1 entry ${l1i} at 0x${offset.toString(16)}`;
    if (offset % this.clusterSize !== 0) this.corrupt(`${where} is not cluster aligned`);
    const clash = this.fixedMetadataAt(offset);
    if (clash) this.corrupt(`${where} overlaps ${clash}`);
    if (offset + this.clusterSize > this.file.size)
      this.corrupt(`${where} lies beyond the end of the file (${this.file.size} bytes): image truncated?`);
    const data = new Uint8Array(this.clusterSize);
    this.file.readExact(offset, data, where);
    return this.l2Cache.insert(offset, data, false);
  }

  private setL1(l1i: number, l2Offset: number): void {
    writeL1(this.l1View, l1i, l2Offset, true);
    this.dirtyL1.add(l1i);
    this.l2Offsets.add(l2Offset);
  }

  private setL2(t: CachedTable, l2i: number, host: number, flags: { copied?: boolean; zero?: boolean }): void {
    writeL2(t.view, l2i, host, flags);
    this.l2Cache.markDirty(t);
  }

  // ---- data path -------------------------------------------------------------------------

  private writeCluster(ci: number, inner: number, data: Uint8Array): void {
    const l2i = ci % this.l2Entries;
    const t = this.l2Table(Math.floor(ci / this.l2Entries), true)!;
    const e = this.entry(t, l2i, ci);
    if (e.kind === 'normal' && e.copied) {
      this.checkDataCluster(e.host, ci, true);
      this.file.write(e.host + inner, data);
      return;
    }
    const full = data.length === this.clusterSize ? data : this.mergeCluster(ci, e, inner, data);
    if (e.kind === 'zero' && e.host !== 0 && e.copied) {
      // A preallocated zero cluster that is ours alone: fill it in place.
      this.checkDataCluster(e.host, ci, true);
      this.file.write(e.host, full);
      this.setL2(t, l2i, e.host, { copied: true });
      return;
    }
    const host = this.refcounts.allocate();
    this.file.write(host, full);
    this.setL2(t, l2i, host, { copied: true });
    this.release(e);
  }

  /** The whole cluster's current content with data laid over it at inner. */
  private mergeCluster(ci: number, e: L2Entry, inner: number, data: Uint8Array): Uint8Array {
    const cs = this.clusterSize;
    const buf = new Uint8Array(cs);
    switch (e.kind) {
      case 'normal':
        this.checkDataCluster(e.host, ci);
        this.file.readPadded(e.host, buf);
        break;
      case 'compressed':
        buf.set(this.decompress(e, ci));
        break;
      case 'unallocated': {
        const start = ci * cs;
        this.readBacking(start, buf.subarray(0, Math.min(cs, this.sizeBytes - start)));
        break;
      }
      case 'zero':
        break;
    }
    buf.set(data, inner);
    return buf;
  }

  private zeroCluster(ci: number, mayUnmap: boolean): void {
    const e = this.lookup(ci);
    if (e.kind === 'unallocated' && !this.backingCovers(ci)) return; // already reads as zeroes
    if (this.header.version < 3) {
      // No zero flag: unmap where nothing shows through, else write zeroes.
      if (!this.backingCovers(ci) && (mayUnmap || !(e.kind === 'normal' && e.copied))) return this.unmapCluster(ci);
      return this.writeCluster(ci, 0, new Uint8Array(this.clusterSize));
    }
    if (e.kind === 'zero' && (e.host === 0 || !mayUnmap)) return;
    const l2i = ci % this.l2Entries;
    const t = this.l2Table(Math.floor(ci / this.l2Entries), true)!;
    const cur = this.entry(t, l2i, ci);
    if (!mayUnmap && cur.kind === 'normal' && cur.copied) {
      this.setL2(t, l2i, cur.host, { copied: true, zero: true }); // keep the preallocation
      return;
    }
    this.setL2(t, l2i, 0, { zero: true });
    this.release(cur);
  }

  private discardCluster(ci: number): void {
    const e = this.lookup(ci);
    if (this.backingCovers(ci)) {
      // Unmapping would expose the backing file's data; v3 can say "zeroes" instead.
      if (this.header.version < 3 || (e.kind === 'zero' && e.host === 0)) return;
      const l2i = ci % this.l2Entries;
      const t = this.l2Table(Math.floor(ci / this.l2Entries), true)!;
      const cur = this.entry(t, l2i, ci);
      this.setL2(t, l2i, 0, { zero: true });
      this.release(cur);
      return;
    }
    if (e.kind === 'unallocated') return;
    this.unmapCluster(ci);
  }

  private unmapCluster(ci: number): void {
    const l2i = ci % this.l2Entries;
    const t = this.l2Table(Math.floor(ci / this.l2Entries), true)!;
    const cur = this.entry(t, l2i, ci);
    this.setL2(t, l2i, 0, {});
    this.release(cur);
  }

  /** Drops the reference an L2 entry held, once the entry no longer holds it. */
  private release(e: L2Entry): void {
    if (e.kind === 'compressed') {
      const start = e.host - (e.host % 512);
      this.refcounts.free(start, e.compressedBytes);
    } else if (e.host !== 0) {
      this.refcounts.free(e.host, this.clusterSize);
    } else {
      return;
    }
    this.lastCompressed = undefined;
  }

  private readsAsZero(ci: number): boolean {
    const e = this.lookup(ci);
    return e.kind === 'zero' || (e.kind === 'unallocated' && !this.backingCovers(ci));
  }

  private backingCovers(ci: number): boolean {
    return this.backing !== undefined && ci * this.clusterSize < this.backing.sizeBytes;
  }

  /** Calls fn per cluster of the range; `whole` when the range covers all of the cluster the guest can see. */
  private forClusters(
    offset: number,
    length: number,
    fn: (ci: number, inner: number, n: number, whole: boolean) => void,
  ): void {
    const cs = this.clusterSize;
    for (let pos = 0; pos < length;) {
      const g = offset + pos;
      const ci = Math.floor(g / cs);
      const inner = g % cs;
      const n = Math.min(cs - inner, length - pos);
      const visible = Math.min(cs, this.sizeBytes - ci * cs);
      fn(ci, inner, n, inner === 0 && n >= visible);
      pos += n;
    }
  }

  private readBacking(offset: number, dst: Uint8Array): void {
    const b = this.backing;
    const have = b ? Math.max(0, Math.min(dst.length, b.sizeBytes - offset)) : 0;
    if (have > 0) b!.read(offset, dst.subarray(0, have));
    dst.fill(0, have);
  }

  private decompress(e: L2Entry, ci: number): Uint8Array {
    if (this.lastCompressed?.host === e.host) return this.lastCompressed.data;
    if (this.header.compressionType !== 0) {
      throw new BlockError(
        'EUNSUPPORTED',
        `guest cluster ${ci} is zstd-compressed, which is not supported`,
        this.file.path,
      );
    }
    if (e.host >= this.file.size)
      this.corrupt(
        `compressed guest cluster ${ci} at 0x${e.host.toString(16)} lies beyond the end of the file: image truncated?`,
      );
    const len = e.compressedBytes - (e.host % 512);
    const src = new Uint8Array(Math.min(len, this.file.size - e.host));
    this.file.readPadded(e.host, src);
    let out: Buffer;
    try {
      // The data may stop mid-sector and be followed by another cluster's: a sync flush stops cleanly at its end.
      out = inflateRawSync(src, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: this.clusterSize });
    } catch (err) {
      this.corrupt(`compressed guest cluster ${ci} does not decompress: ${(err as Error).message}`);
    }
    if (out.length < this.clusterSize)
      this.corrupt(`compressed guest cluster ${ci} decompresses to ${out.length} bytes, not ${this.clusterSize}`);
    const data = new Uint8Array(out.buffer, out.byteOffset, this.clusterSize);
    this.lastCompressed = { host: e.host, data };
    return data;
  }

  // ---- consistency -----------------------------------------------------------------------

  /**
   * Writes all dirty metadata in the order that keeps the image consistent at each step,
   * with a barrier between steps, so that a crash (or kill -9) at any point leaves an image
   * that is consistent and holds every write completed before the last flush.
   */
  flushMetadata(): void {
    if (this.readOnly || this.closed) return;
    if (this.flushing) throw new Error('internal: qcow2 metadata flush re-entered');
    this.flushing = true;
    try {
      this.file.datasync(); // 1. guest data in clusters the new metadata will point to
      if (this.refcounts.writeIncrements()) this.file.datasync(); // 2. refcounts for them
      let wrote = false;
      for (const t of this.l2Cache.dirtyTables()) {
        this.file.write(t.offset, t.data); // 3. L2 tables
        t.dirty = false;
        wrote = true;
      }
      if (wrote) this.file.datasync();
      if (this.dirtyL1.size > 0) {
        for (const i of [...this.dirtyL1].sort((a, b) => a - b))
          this.file.write(this.header.l1TableOffset + i * 8, this.l1.subarray(i * 8, i * 8 + 8)); // 4. L1
        this.dirtyL1.clear();
        this.file.datasync();
      }
      if (this.refcounts.applyPendingFrees()) this.file.datasync(); // 5. references are gone: decrement
    } finally {
      this.flushing = false;
    }
  }

  /** What metadata lies in the cluster at a host offset, if any. */
  metadataAt(offset: number): string | undefined {
    const fixed = this.fixedMetadataAt(offset);
    if (fixed) return fixed;
    const start = offset - (offset % this.clusterSize);
    if (this.l2Offsets.has(start)) return 'an L2 table';
    return this.snapshotL2Offsets.has(start) ? 'an L2 table of a snapshot' : undefined;
  }

  /** Metadata other than L2 tables (which is what an L2 table itself must not overlap). */
  private fixedMetadataAt(offset: number): string | undefined {
    const cs = this.clusterSize;
    const start = offset - (offset % cs);
    const h = this.header;
    const inRange = (at: number, bytes: number): boolean => bytes > 0 && start + cs > at && start < at + bytes;
    if (start === 0) return 'the image header';
    if (inRange(h.l1TableOffset, h.l1Size * 8)) return 'the L1 table';
    const rc = this.refcounts.describe(offset);
    if (rc) return rc;
    if (inRange(h.snapshotsOffset, this.snapshots.bytes)) return 'the snapshot table';
    for (const s of this.snapshots.snapshots)
      if (inRange(s.l1Offset, s.l1Size * 8)) return `the L1 table of snapshot "${s.name}"`;
    return undefined;
  }

  private checkDataCluster(host: number, ci: number, forWrite = false): void {
    if (host % this.clusterSize !== 0)
      this.corrupt(`guest cluster ${ci} maps to unaligned host offset 0x${host.toString(16)}`);
    if (host >= this.file.size) {
      this.corrupt(
        `guest cluster ${ci} maps to host offset 0x${host.toString(16)}, beyond the end of the file (${this.file.size} bytes): image truncated?`,
      );
    }
    if (forWrite) {
      const clash = this.metadataAt(host);
      if (clash)
        this.corrupt(
          `guest cluster ${ci} maps to host offset 0x${host.toString(16)}, which holds ${clash}; refusing to overwrite metadata`,
        );
    }
  }

  private corrupt(msg: string): never {
    throw new BlockError('ECORRUPT', msg, this.file.path);
  }

  /** Runs a mutation; if it finds the image corrupt, no further writes are allowed. */
  private guarded(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof BlockError && e.code === 'ECORRUPT') this.broken = e.message;
      throw e;
    }
  }

  private clearAutoclear(): void {
    // We do not maintain bitmaps (or any autoclear feature): clearing the bits tells other
    // readers that such data may be stale, as the spec requires before writing.
    const b = new Uint8Array(8);
    this.file.write(FIELD.autoclearFeatures, b);
    this.file.datasync();
    (this.header as Qcow2Header).autoclearFeatures = 0n;
  }

  private checkOpen(): void {
    if (this.closed) throw new BlockError('ECLOSED', 'image is closed', this.file.path);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.readOnly) throw new BlockError('EROFS', 'image is open read-only', this.file.path);
    if (this.broken !== undefined)
      throw new BlockError('ECORRUPT', `writes refused after an earlier error (${this.broken})`);
  }
}

/**
 * A backing file name as QEMU resolves it: absolute names as they are, relative ones against
 * the directory of the image naming them (kept textually, so `qemu-img info` output matches).
 */
export function resolveBackingPath(imagePath: string, backingName: string): string {
  if (backingName.startsWith('/')) return backingName;
  const slash = imagePath.lastIndexOf('/');
  return slash < 0 ? backingName : imagePath.slice(0, slash + 1) + backingName;
}
