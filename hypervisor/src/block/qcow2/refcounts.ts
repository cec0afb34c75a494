// Host cluster reference counts: the refcount table, its refcount blocks, and cluster allocation.
//
// Crash consistency rests on one rule: on disk, a cluster's refcount is never lower than the
// number of references to it. So increments are written before the tables that reference the
// cluster (flush phase "writeIncrements"), and decrements are held back as pending frees until
// the tables that dropped the reference are durable ("applyPendingFrees"). A crash in between
// can leak clusters (harmless, `qemu-img check` reports leaks) but never corrupt.

import { BlockError } from '../backend.js';
import type { HostFile } from '../file.js';
import { TableCache, type CachedTable } from './cache.js';
import { FIELD, MAX_REFCOUNT_TABLE_BYTES, view } from './header.js';

export interface RefcountLayout {
  clusterBits: number;
  refcountOrder: number;
  tableOffset: number;
  tableClusters: number;
}

export interface RefcountHooks {
  /** The image's ordered metadata flush; runs before the refcount table moves, or when a full cache must evict. */
  flushAll(): void;
  /** Describes the metadata at a host offset the refcounts call free, or undefined: a last guard against corrupt refcounts. */
  metadataAt(offset: number): string | undefined;
}

/** A refcount table entry that could not be used, as `qemu-img check` reports them. */
export interface BadTableEntry {
  index: number;
  problem: 'reserved' | 'unaligned' | 'outside';
  offset: number;
}

const HI = 2 ** 32;

export class Refcounts {
  readonly clusterSize: number;
  readonly bits: number;
  /** Largest storable refcount. */
  readonly max: number;
  /** Refcount entries in one block. */
  readonly perBlock: number;
  tableOffset: number;
  tableClusters: number;
  /** Refcount block offset per table index; 0 when the block is absent. */
  private table: Float64Array;
  private readonly dirtyTableEntries = new Set<number>();
  private readonly blocks: TableCache;
  private readonly blockOffsets = new Set<number>();
  /** Cluster index -> decrements not yet applied (see the header comment). */
  private readonly pendingFrees = new Map<number, number>();
  /** No free cluster exists below this index. */
  private freeHint = 0;
  /** One past the highest cluster index allocated or present in the file. */
  private allocEnd: number;
  readonly badEntries: BadTableEntry[] = [];

  private constructor(
    private readonly file: HostFile,
    layout: RefcountLayout,
    table: Float64Array,
    private readonly hooks: RefcountHooks,
    cacheTables: number,
  ) {
    this.clusterSize = 2 ** layout.clusterBits;
    this.bits = 2 ** layout.refcountOrder;
    this.max = this.bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** this.bits - 1;
    this.perBlock = (this.clusterSize * 8) / this.bits;
    this.tableOffset = layout.tableOffset;
    this.tableClusters = layout.tableClusters;
    this.table = table;
    this.blocks = new TableCache(cacheTables, () => hooks.flushAll());
    this.allocEnd = Math.ceil(file.size / this.clusterSize);
    for (const off of table) if (off) this.blockOffsets.add(off);
  }

  /**
   * Reads the refcount table. Strict (for I/O) rejects a bad entry; lenient (for `check`)
   * records it in badEntries and treats its block as absent.
   */
  static load(
    file: HostFile,
    layout: RefcountLayout,
    hooks: RefcountHooks,
    opts: { strict: boolean; cacheTables: number },
  ): Refcounts {
    const cs = 2 ** layout.clusterBits;
    const raw = new Uint8Array(layout.tableClusters * cs);
    file.readExact(layout.tableOffset, raw, 'refcount table');
    const v = view(raw);
    const table = new Float64Array(raw.length / 8);
    const bad: BadTableEntry[] = [];
    for (let i = 0; i < table.length; i++) {
      const hi = v.getUint32(i * 8);
      const lo = v.getUint32(i * 8 + 4);
      const offset = hi * HI + ((lo & ~0x1ff) >>> 0);
      let problem: BadTableEntry['problem'] | undefined;
      if (lo & 0x1ff) problem = 'reserved';
      else if (offset % cs !== 0) problem = 'unaligned';
      else if (offset !== 0 && (offset + cs > file.size || hi > 0x00ffffff)) problem = 'outside';
      if (problem) {
        if (opts.strict) {
          throw new BlockError(
            'ECORRUPT',
            `refcount table entry ${i} (block at 0x${offset.toString(16)}) is ${problem === 'outside' ? 'beyond the end of the file: image truncated?' : problem === 'unaligned' ? 'not cluster aligned' : 'using reserved bits'}`,
            file.path,
          );
        }
        bad.push({ index: i, problem, offset });
        continue;
      }
      table[i] = offset;
    }
    const r = new Refcounts(file, layout, table, hooks, opts.cacheTables);
    r.badEntries.push(...bad);
    return r;
  }

  get tableEntries(): number {
    return this.table.length;
  }

  blockOffset(index: number): number {
    return this.table[index] ?? 0;
  }

  /** What refcount metadata (if any) occupies the cluster at offset. */
  describe(offset: number): string | undefined {
    const cs = this.clusterSize;
    const start = offset - (offset % cs);
    if (start >= this.tableOffset && start < this.tableOffset + this.tableClusters * cs) return 'the refcount table';
    if (this.blockOffsets.has(start)) return 'a refcount block';
    return undefined;
  }

  /** Refcount of the cluster with this index, as the table and blocks say (pending frees not subtracted). */
  get(cluster: number): number {
    const b = this.loadBlock(Math.floor(cluster / this.perBlock));
    return b ? this.getEntry(b.view, cluster % this.perBlock) : 0;
  }

  /** Allocates one cluster (refcount 0 -> 1) and returns its host offset. */
  allocate(): number {
    for (;;) {
      const c = this.findFree(this.freeHint);
      const ri = Math.floor(c / this.perBlock);
      if (ri >= this.table.length) {
        this.growTable(ri);
        continue;
      }
      if (this.table[ri] === 0) {
        this.createBlock(ri, c);
        continue;
      }
      const clash = this.hooks.metadataAt(c * this.clusterSize);
      if (clash) {
        throw new BlockError(
          'ECORRUPT',
          `cluster ${c} has refcount 0 but holds ${clash}: refcounts are corrupt`,
          this.file.path,
        );
      }
      const b = this.loadBlock(ri)!;
      this.setEntry(b.view, c % this.perBlock, 1);
      this.blocks.markDirty(b);
      this.freeHint = c + 1;
      this.allocEnd = Math.max(this.allocEnd, c + 1);
      return c * this.clusterSize;
    }
  }

  /** Drops one reference to every cluster overlapping [offset, offset + bytes); applied at the next flush. */
  free(offset: number, bytes: number): void {
    const first = Math.floor(offset / this.clusterSize);
    const last = Math.floor((offset + bytes - 1) / this.clusterSize);
    for (let c = first; c <= last; c++) {
      if (this.get(c) - (this.pendingFrees.get(c) ?? 0) < 1) {
        throw new BlockError('ECORRUPT', `cluster ${c} is referenced but its refcount is already 0`, this.file.path);
      }
    }
    for (let c = first; c <= last; c++) this.pendingFrees.set(c, (this.pendingFrees.get(c) ?? 0) + 1);
  }

  get hasDirty(): boolean {
    return this.blocks.hasDirty || this.dirtyTableEntries.size > 0;
  }

  get hasPendingFrees(): boolean {
    return this.pendingFrees.size > 0;
  }

  /** Flush phase: dirty blocks (which hold only increments), then the table entries of new blocks. */
  writeIncrements(): boolean {
    let wrote = false;
    for (const b of this.blocks.dirtyTables()) {
      this.file.write(b.offset, b.data);
      b.dirty = false;
      wrote = true;
    }
    if (this.dirtyTableEntries.size > 0) {
      this.file.datasync(); // the blocks must be durable before the table points at them
      const entry = new Uint8Array(8);
      const v = view(entry);
      for (const i of [...this.dirtyTableEntries].sort((a, b) => a - b)) {
        v.setBigUint64(0, BigInt(this.table[i]!));
        this.file.write(this.tableOffset + i * 8, entry);
      }
      this.dirtyTableEntries.clear();
      wrote = true;
    }
    return wrote;
  }

  /** Flush phase, once the tables that dropped the references are durable. Returns whether anything was written. */
  applyPendingFrees(): boolean {
    if (this.pendingFrees.size === 0) return false;
    const byBlock = new Map<number, [number, number][]>();
    for (const [c, n] of this.pendingFrees) {
      const ri = Math.floor(c / this.perBlock);
      let list = byBlock.get(ri);
      if (!list) byBlock.set(ri, (list = []));
      list.push([c, n]);
    }
    for (const [ri, list] of byBlock) {
      // Each block is written right away, so the cache never holds a dirty block here and
      // loading the next one can never re-enter the image flush.
      const b = this.loadBlock(ri)!;
      for (const [c, n] of list) {
        const i = c % this.perBlock;
        this.setEntry(b.view, i, Math.max(0, this.getEntry(b.view, i) - n));
        this.pendingFrees.delete(c);
        this.freeHint = Math.min(this.freeHint, c);
      }
      this.file.write(b.offset, b.data);
      b.dirty = false;
    }
    return true;
  }

  /** Highest cluster index with a nonzero refcount, plus one (0 if none). */
  endCluster(): number {
    for (let ri = this.table.length - 1; ri >= 0; ri--) {
      const b = this.loadBlock(ri);
      if (!b) continue;
      for (let i = this.perBlock - 1; i >= 0; i--)
        if (this.getEntry(b.view, i) !== 0) return ri * this.perBlock + i + 1;
    }
    return 0;
  }

  private findFree(from: number): number {
    let c = from;
    for (;;) {
      const ri = Math.floor(c / this.perBlock);
      if (ri >= this.table.length || this.table[ri] === 0) return c;
      const b = this.loadBlock(ri)!;
      for (let i = c % this.perBlock; i < this.perBlock; i++)
        if (this.getEntry(b.view, i) === 0) return ri * this.perBlock + i;
      c = (ri + 1) * this.perBlock;
    }
  }

  /**
   * A new block for table index ri, which has none (so every cluster it covers is free).
   * It goes inside its own range and counts itself, so no other block changes.
   */
  private createBlock(ri: number, avoid: number): void {
    const first = ri * this.perBlock;
    const at = first === avoid ? first + 1 : first;
    const clash = this.hooks.metadataAt(at * this.clusterSize);
    if (clash) {
      throw new BlockError(
        'ECORRUPT',
        `refcount table has no block for cluster ${at}, which holds ${clash}: refcounts are corrupt`,
        this.file.path,
      );
    }
    const offset = at * this.clusterSize;
    const b = this.blocks.insert(offset, new Uint8Array(this.clusterSize), true);
    this.setEntry(b.view, at - first, 1);
    this.table[ri] = offset;
    this.dirtyTableEntries.add(ri);
    this.blockOffsets.add(offset);
    this.allocEnd = Math.max(this.allocEnd, at + 1);
  }

  /**
   * Moves the refcount table to a bigger one at the end of the file, with the new blocks that
   * describe it, then switches the header over. Everything else is flushed first, so the
   * new table only ever points at blocks already on disk.
   */
  private growTable(needIndex: number): void {
    this.hooks.flushAll();
    const cs = this.clusterSize;
    const per = this.perBlock;
    const oldEntries = this.table.length;
    const start = Math.max(this.allocEnd, Math.ceil(this.file.size / cs));
    const missing = (r: number): boolean => r >= oldEntries || this.table[r] === 0;
    let tableClusters = 0;
    let newBlocks: number[] = [];
    for (;;) {
      const end = start + newBlocks.length + tableClusters;
      const entries = Math.max(needIndex + 1, Math.ceil(end / per), Math.ceil((this.tableClusters * 3 * cs) / 16));
      const t = Math.ceil((entries * 8) / cs);
      const blocks: number[] = [];
      for (let r = Math.floor(start / per); r <= Math.floor((start + newBlocks.length + t - 1) / per); r++)
        if (missing(r)) blocks.push(r);
      if (t === tableClusters && blocks.length === newBlocks.length) break;
      tableClusters = t;
      newBlocks = blocks;
    }
    if (tableClusters * cs > MAX_REFCOUNT_TABLE_BYTES) {
      throw new BlockError(
        'EUNSUPPORTED',
        `the refcount table would exceed ${MAX_REFCOUNT_TABLE_BYTES} bytes`,
        this.file.path,
      );
    }
    const used = newBlocks.length + tableClusters;
    const newTableOffset = (start + newBlocks.length) * cs;
    const table = new Float64Array((tableClusters * cs) / 8);
    table.set(this.table);
    const blockData = new Map<number, Uint8Array>();
    newBlocks.forEach((r, i) => {
      table[r] = (start + i) * cs;
      blockData.set(r, new Uint8Array(cs));
    });
    // Count every new cluster in whichever block covers it: new blocks, or existing ones.
    for (let c = start; c < start + used; c++) {
      const r = Math.floor(c / per);
      const fresh = blockData.get(r);
      if (fresh) {
        this.setEntry(view(fresh), c % per, 1);
      } else {
        const b = this.loadBlock(r)!;
        this.setEntry(b.view, c % per, 1);
        this.blocks.markDirty(b);
      }
    }
    for (const b of this.blocks.dirtyTables()) {
      this.file.write(b.offset, b.data);
      b.dirty = false;
    }
    for (const [r, data] of blockData) this.file.write(table[r]!, data);
    const raw = new Uint8Array(tableClusters * cs);
    const rv = view(raw);
    table.forEach((off, i) => rv.setBigUint64(i * 8, BigInt(off)));
    this.file.write(newTableOffset, raw);
    this.file.datasync();
    const hdr = new Uint8Array(12);
    view(hdr).setBigUint64(0, BigInt(newTableOffset));
    view(hdr).setUint32(8, tableClusters);
    this.file.write(FIELD.refcountTableOffset, hdr);
    this.file.datasync();

    const oldOffset = this.tableOffset;
    const oldClusters = this.tableClusters;
    this.table = table;
    this.tableOffset = newTableOffset;
    this.tableClusters = tableClusters;
    for (const [r, data] of blockData) {
      this.blockOffsets.add(table[r]!);
      this.blocks.insert(table[r]!, data, false);
    }
    this.allocEnd = start + used;
    this.free(oldOffset, oldClusters * cs);
  }

  private loadBlock(ri: number): CachedTable | undefined {
    const offset = this.table[ri];
    if (!offset) return undefined;
    const cached = this.blocks.get(offset);
    if (cached) return cached;
    const data = new Uint8Array(this.clusterSize);
    this.file.readExact(offset, data, `refcount block ${ri}`);
    return this.blocks.insert(offset, data, false);
  }

  private getEntry(v: DataView, i: number): number {
    switch (this.bits) {
      case 8:
        return v.getUint8(i);
      case 16:
        return v.getUint16(i * 2);
      case 32:
        return v.getUint32(i * 4);
      case 64: {
        const x = v.getBigUint64(i * 8);
        return x > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(x);
      }
      default: {
        // 1, 2 or 4 bits: bit 0 is the least significant bit of the byte.
        const bit = i * this.bits;
        return (v.getUint8(bit >> 3) >> (bit & 7)) & this.max;
      }
    }
  }

  private setEntry(v: DataView, i: number, value: number): void {
    if (value > this.max) {
      throw new BlockError('ECORRUPT', `refcount overflow: ${value} does not fit in ${this.bits} bits`, this.file.path);
    }
    switch (this.bits) {
      case 8:
        return v.setUint8(i, value);
      case 16:
        return v.setUint16(i * 2, value);
      case 32:
        return v.setUint32(i * 4, value);
      case 64:
        return v.setBigUint64(i * 8, BigInt(value));
      default: {
        const bit = i * this.bits;
        const byte = v.getUint8(bit >> 3) & ~(this.max << (bit & 7));
        v.setUint8(bit >> 3, byte | (value << (bit & 7)));
      }
    }
  }
}
