// A bounded write-back cache of one-cluster metadata tables (L2 tables, refcount blocks).
//
// Dirty tables are only written by the image's ordered flush, never by the cache itself: the
// order in which metadata reaches the disk is what keeps the image consistent after a crash.
// When the cache is full of dirty tables it asks the image to flush, then evicts.

import { view } from './header.js';

export interface CachedTable {
  readonly offset: number;
  readonly data: Uint8Array;
  readonly view: DataView;
  dirty: boolean;
}

export class TableCache {
  // Map iteration order is insertion order; re-inserting on use makes it an LRU list.
  private readonly tables = new Map<number, CachedTable>();

  constructor(
    private readonly capacity: number,
    private readonly flushAll: () => void,
  ) {}

  get(offset: number): CachedTable | undefined {
    const t = this.tables.get(offset);
    if (t) {
      this.tables.delete(offset);
      this.tables.set(offset, t);
    }
    return t;
  }

  /** Adds a table read from disk (clean) or freshly built (dirty). */
  insert(offset: number, data: Uint8Array, dirty: boolean): CachedTable {
    this.tables.delete(offset);
    if (this.tables.size >= this.capacity) this.evictOne();
    const t: CachedTable = { offset, data, view: view(data), dirty };
    this.tables.set(offset, t);
    return t;
  }

  markDirty(t: CachedTable): void {
    if (this.tables.get(t.offset) !== t)
      throw new Error(`internal: table at 0x${t.offset.toString(16)} modified after eviction`);
    t.dirty = true;
  }

  *dirtyTables(): IterableIterator<CachedTable> {
    for (const t of this.tables.values()) if (t.dirty) yield t;
  }

  get hasDirty(): boolean {
    for (const t of this.tables.values()) if (t.dirty) return true;
    return false;
  }

  /** Drops a table whose cluster was freed, so a later reuse of the cluster never sees stale content. */
  forget(offset: number): void {
    const t = this.tables.get(offset);
    if (t?.dirty) throw new Error(`internal: dropping dirty table at 0x${offset.toString(16)}`);
    this.tables.delete(offset);
  }

  clear(): void {
    this.tables.clear();
  }

  private evictOne(): void {
    for (const [offset, t] of this.tables) {
      if (!t.dirty) {
        this.tables.delete(offset);
        return;
      }
    }
    this.flushAll();
    for (const [offset, t] of this.tables) {
      if (!t.dirty) {
        this.tables.delete(offset);
        return;
      }
    }
    throw new Error('internal: metadata flush left every cached table dirty');
  }
}
