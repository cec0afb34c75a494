// Guest RAM with per-page write hooks. A page whose flags are non-zero must take the slow
// store path (the CPU keeps no writable TLB entry for it): that is how dirty logging costs
// nothing on already-dirty pages, how cached translated code is invalidated on writes, and
// how HTIF watches `tohost`. It is KVM's write-protection trick done in software.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export const enum PageFlag {
  /** Dirty logging is on and the page has not been written since the last fetch. */
  LogClean = 1,
  /** Translated code was made from this page. */
  Code = 2,
  /** Someone watches writes to this page (HTIF tohost). */
  Watched = 4,
  /**
   * The page is all zero bytes and nothing has written it since it was known to be (every page of
   * fresh RAM starts so). The first write clears it (one slow store per page). Savers skip such
   * pages without reading them, and a restore need not zero them: in fresh RAM that spares the
   * host a page fault for every page the guest never touched. Writers that bypass the CPU must
   * report writes (noteWrite, noteWriteRange, dmaWrite), as dirty logging already requires.
   */
  Zero = 8,
}

export interface RamWriteListener {
  /** A write hit a page that holds translated code: drop that code. */
  codeWritten(page: number): void;
  /** Page flags went from zero to non-zero: writable TLB entries for the page (-1: for every page) must go. */
  writeProtected(page: number): void;
}

export class GuestRam {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly pages: number;
  /** PageFlag bits per page. */
  readonly pageFlags: Uint8Array;
  private readonly dirty: Uint8Array;
  private dirtyLogging = false;
  private watchers = new Map<number, (addr: number) => void>();
  listener: RamWriteListener | undefined;

  constructor(
    readonly base: number,
    readonly size: number,
  ) {
    if (size <= 0 || size % PAGE_SIZE !== 0)
      throw new RangeError(`RAM size ${size} must be a positive multiple of 4 KiB`);
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
    this.pages = size >>> PAGE_SHIFT;
    this.pageFlags = new Uint8Array(this.pages).fill(PageFlag.Zero);
    this.dirty = new Uint8Array(this.pages);
  }

  /** Offset into `bytes` for a physical address, or -1 when outside RAM. */
  offsetOf(paddr: number, length = 1): number {
    const off = (paddr >>> 0) - this.base;
    return off >= 0 && off + length <= this.size ? off : -1;
  }

  /** Called on every store that reaches a page with flags set (CPU slow path or DMA). */
  noteWrite(offset: number): void {
    const page = offset >>> PAGE_SHIFT;
    const flags = this.pageFlags[page]!;
    if (flags === 0) return;
    if (flags & PageFlag.LogClean) this.dirty[page] = 1;
    if (flags & PageFlag.Code) this.listener?.codeWritten(page);
    this.pageFlags[page] = flags & PageFlag.Watched;
    if (flags & PageFlag.Watched) this.watchers.get(page)?.(this.base + offset);
  }

  /** Marks every page in [offset, offset+length) as written (device DMA into guest RAM). */
  noteWriteRange(offset: number, length: number): void {
    if (length <= 0) return;
    const last = (offset + length - 1) >>> PAGE_SHIFT;
    for (let page = offset >>> PAGE_SHIFT; page <= last; page++) {
      if (this.pageFlags[page] !== 0) this.noteWrite(page << PAGE_SHIFT);
    }
  }

  /** Copies device data into guest RAM, as a DMA write. */
  dmaWrite(paddr: number, src: Uint8Array): void {
    const off = this.offsetOf(paddr, src.length);
    if (off < 0) throw new RangeError(`DMA write outside RAM at 0x${(paddr >>> 0).toString(16)}`);
    this.bytes.set(src, off);
    this.noteWriteRange(off, src.length);
  }

  /** Whether the page is known to hold only zero bytes without reading it (see PageFlag.Zero). */
  isKnownZero(page: number): boolean {
    return (this.pageFlags[page]! & PageFlag.Zero) !== 0;
  }

  /**
   * Zeroes every page but those `keep` marks (keep[page] !== 0), skipping pages already known to
   * be zero (never touching them: fresh RAM stays unallocated by the host), and marks them all as
   * known zero. Marked pages lose the mark: the caller is about to write them.
   */
  zeroPagesExcept(keep: Uint8Array): void {
    const flags = this.pageFlags;
    let protect = false;
    for (let p = 0; p < this.pages; p++) {
      const f = flags[p]!;
      if (keep[p]) {
        flags[p] = f & ~PageFlag.Zero;
      } else if (!(f & PageFlag.Zero)) {
        this.bytes.fill(0, p << PAGE_SHIFT, (p + 1) << PAGE_SHIFT);
        flags[p] = f | PageFlag.Zero;
        if (f === 0) protect = true;
      }
    }
    // Newly flagged pages must lose their writable TLB entries, so the next write clears the flag.
    if (protect) this.listener?.writeProtected(-1);
  }

  setFlag(page: number, flag: PageFlag): void {
    const before = this.pageFlags[page]!;
    this.pageFlags[page] = before | flag;
    if (before === 0) this.listener?.writeProtected(page);
  }

  /** Calls `fn` with the address written whenever the guest writes to the page of `paddr`. */
  watch(paddr: number, fn: (addr: number) => void): void {
    const off = this.offsetOf(paddr);
    if (off < 0) throw new RangeError(`cannot watch 0x${(paddr >>> 0).toString(16)}: not in RAM`);
    const page = off >>> PAGE_SHIFT;
    this.watchers.set(page, fn);
    this.setFlag(page, PageFlag.Watched);
  }

  // --- dirty log (per 4 KiB page) ---

  get dirtyLogActive(): boolean {
    return this.dirtyLogging;
  }

  startDirtyLog(): void {
    this.dirtyLogging = true;
    this.dirty.fill(0);
    this.protectAll();
  }

  /** Returns the pages written since the last fetch (or start), and re-arms logging on them. */
  fetchDirtyLog(): number[] {
    const out: number[] = [];
    // indexOf scans in native code at any JIT tier: a migration calls this once per round, too
    // rarely for a loop here to be optimized, and the last call is inside the guest's pause.
    for (let p = this.dirty.indexOf(1); p >= 0; p = this.dirty.indexOf(1, p + 1)) out.push(p);
    this.dirty.fill(0);
    if (this.dirtyLogging) {
      // One sweep of the TLBs for all the pages, not a sweep per page (thousands of them per round).
      let protect = false;
      for (const p of out) {
        const before = this.pageFlags[p]!;
        this.pageFlags[p] = before | PageFlag.LogClean;
        if (before === 0) protect = true;
      }
      if (protect) this.listener?.writeProtected(-1);
    }
    return out;
  }

  stopDirtyLog(): void {
    this.dirtyLogging = false;
    for (let p = 0; p < this.pages; p++) this.pageFlags[p] = this.pageFlags[p]! & ~PageFlag.LogClean;
  }

  private protectAll(): void {
    for (let p = 0; p < this.pages; p++) this.pageFlags[p] = this.pageFlags[p]! | PageFlag.LogClean;
    this.listener?.writeProtected(-1);
  }
}
