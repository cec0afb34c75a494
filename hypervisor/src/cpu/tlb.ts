// A software TLB: direct-mapped, one entry per virtual page number slot, separate entries for
// reads, writes and fetches so each access checks just one tag. An entry maps a virtual page
// straight to its offset in guest RAM: `off + va` is the byte offset of `va` in RAM.
export const TLB_BITS = 8;
export const TLB_MASK = (1 << TLB_BITS) - 1;

export class TlbSet {
  readonly rTag = new Int32Array(1 << TLB_BITS).fill(-1);
  readonly rOff = new Int32Array(1 << TLB_BITS);
  readonly wTag = new Int32Array(1 << TLB_BITS).fill(-1);
  readonly wOff = new Int32Array(1 << TLB_BITS);
  /** RAM page of each write entry, to drop the entries of one page when it becomes protected. */
  readonly wPage = new Int32Array(1 << TLB_BITS).fill(-1);
  readonly xTag = new Int32Array(1 << TLB_BITS).fill(-1);
  readonly xOff = new Int32Array(1 << TLB_BITS);

  flush(): void {
    this.rTag.fill(-1);
    this.wTag.fill(-1);
    this.wPage.fill(-1);
    this.xTag.fill(-1);
  }

  /**
   * Drops every entry in the 4 MiB region of `va`: the page itself, and the other pages of a
   * superpage that may map it (entries are per 4 KiB page even for superpages).
   */
  forgetRegion(va: number): void {
    const region = va >>> 22;
    const { rTag, wTag, wPage, xTag } = this;
    // One pass, allocating nothing: Linux issues one of these per page-table update. An empty
    // entry (-1) never matches: -1 >>> 10 is above any region.
    for (let i = 0; i < rTag.length; i++) {
      if (rTag[i]! >>> 10 === region) rTag[i] = -1;
      if (wTag[i]! >>> 10 === region) {
        wTag[i] = -1;
        wPage[i] = -1;
      }
      if (xTag[i]! >>> 10 === region) xTag[i] = -1;
    }
  }

  /** Drops the write entries that map RAM page `page` (-1: all of them). */
  protect(page: number): void {
    if (page < 0) {
      this.wTag.fill(-1);
      this.wPage.fill(-1);
      return;
    }
    const wp = this.wPage;
    for (let i = 0; i < wp.length; i++) {
      if (wp[i] === page) {
        wp[i] = -1;
        this.wTag[i] = -1;
      }
    }
  }
}

/** `off` such that (off + va) | 0 is the RAM byte offset of va, for a page at RAM offset pageOffset. */
export const entryOffset = (va: number, pageOffset: number): number => (pageOffset - (va & ~0xfff)) | 0;
