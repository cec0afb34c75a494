// One RV32IMAC hart: architectural state, the hot loop that runs translated blocks, and the slow
// paths translated code falls back to (TLB misses, MMIO, traps, CSRs, atomics).
import type { Bus } from '../bus/bus.js';
import type { HartInterruptPins } from '../bus/device.js';
import { PageFlag, type GuestRam, type RamWriteListener } from '../bus/ram.js';
import type { Clock } from '../clock.js';
import { Csr, csrRead, csrWrite, ILLEGAL, Mstatus, mppOf } from './csr.js';
import {
  Access,
  ACCESS_FAULT as ACCESS_FAULT_CAUSE,
  Cause,
  PAGE_FAULT as PAGE_FAULT_CAUSE,
  Priv,
} from './exceptions.js';
import { compileBlock, instructionBlock, MAX_BLOCK, straddles, threadBlock, type Block } from './jit.js';
import { translate, PAGE_FAULT } from './mmu.js';
import { entryOffset, TLB_MASK, TlbSet } from './tlb.js';
import { enterTrap, mret, sret, takeInterrupt } from './trap.js';

/** Serves an ecall made from S-mode when the VMM is the firmware (SBI); false = not handled. */
export type EcallHandler = (h: Hart) => boolean;

const enum Amo {
  Add = 0x00,
  Swap = 0x01,
  Lr = 0x02,
  Sc = 0x03,
  Xor = 0x04,
  Or = 0x08,
  And = 0x0c,
  Min = 0x10,
  Max = 0x14,
  Minu = 0x18,
  Maxu = 0x1c,
}

/**
 * Runs after which a block is compiled into one function. V8's optimizing compile of a block
 * costs about as much as tens of thousands of cold runs of it, so a block is compiled only once
 * it has run that often (5,000 compiled four times as many blocks in a Linux boot, for 20% more CPU).
 */
const HOT_BLOCK_RUNS = 40_000;

/** The translated blocks starting in one RAM page, by halfword offset, with the virtual pc each was made for. */
interface PageBlocks {
  code: Block[];
  pcs: Int32Array;
}

/** Block starts in a page: with C, an instruction may start at any 16-bit parcel. */
const SLOTS = 2048;

/** Traps in a row without a retired instruction after which run() returns (see raise()). */
const TRAP_STORM = 10_000;

export class Hart implements HartInterruptPins, RamWriteListener {
  // --- architectural state ---
  readonly x = new Int32Array(32);
  pc = 0;
  priv: Priv = Priv.Machine;
  mstatus = 0;
  mtvec = 0;
  mepc = 0;
  mcause = 0;
  mtval = 0;
  mscratch = 0;
  medeleg = 0;
  mideleg = 0;
  mie = 0;
  /** mip as software sees it: mipHw (CLINT, PLIC, SBI timer) | mipSoft (bits written by software). */
  mip = 0;
  mipHw = 0;
  mipSoft = 0;
  stvec = 0;
  sepc = 0;
  scause = 0;
  stval = 0;
  sscratch = 0;
  satp = 0;
  mcounteren = 0;
  scounteren = 0;
  menvcfg = 0;
  senvcfg = 0;
  readonly pmpcfg = new Int32Array(4);
  readonly pmpaddr = new Int32Array(16);
  /** Instructions executed; the guest's minstret is instret + retiredOffset. */
  instret = 0;
  retiredOffset = 0;
  /** Physical address reserved by LR, or -1. */
  reservation = -1;
  /** Sleeping in WFI until an enabled interrupt is pending. */
  wfi = false;

  // --- execution machinery (read by translated code) ---
  trapped = false;
  readonly m8: Int8Array;
  readonly mu8: Uint8Array;
  readonly m16: Int16Array;
  readonly mu16: Uint16Array;
  readonly m32: Int32Array;
  private readonly tlbM = new TlbSet();
  private readonly tlbS = new TlbSet();
  private readonly tlbU = new TlbSet();
  /** S-mode data accesses while mstatus.SUM is set. */
  private readonly tlbSum = new TlbSet();
  private readonly tlbSets = [this.tlbM, this.tlbS, this.tlbU, this.tlbSum];
  private dataSet = this.tlbM;
  rT!: Int32Array;
  rO!: Int32Array;
  wT!: Int32Array;
  wO!: Int32Array;
  xT!: Int32Array;
  xO!: Int32Array;
  private dataPriv: Priv = Priv.Machine;
  /** Translated blocks per RAM page, indexed by word offset in the page; `single` holds one-instruction blocks. */
  private readonly blocks: (PageBlocks | undefined)[];
  private readonly single: (PageBlocks | undefined)[];
  /**
   * The pages given blocks since the last dropTranslations (a page may appear more than once):
   * dropping them all then touches those, not every page of RAM. That drop happens inside a
   * migration's pause, at the destination, where a sweep of a 256 MiB machine's two arrays cost
   * 0.3 ms with cold caches.
   */
  private translatedPages: number[] = [];

  /** Runs after which a block is compiled; 0 compiles every block at once (tests compare the two tiers). */
  hotRuns = HOT_BLOCK_RUNS;

  ecallHandler: EcallHandler | undefined;
  /** Called when an enabled interrupt becomes pending while the hart sleeps in WFI. */
  onWake: (() => void) | undefined;

  constructor(
    readonly ram: GuestRam,
    readonly bus: Bus,
    readonly clock: Clock,
  ) {
    const buf = ram.bytes.buffer;
    this.m8 = new Int8Array(buf);
    this.mu8 = new Uint8Array(buf);
    this.m16 = new Int16Array(buf);
    this.mu16 = new Uint16Array(buf);
    this.m32 = new Int32Array(buf);
    this.blocks = new Array<PageBlocks | undefined>(ram.pages);
    this.single = new Array<PageBlocks | undefined>(ram.pages);
    ram.listener = this;
    this.selectTlb();
  }

  reset(pc: number): void {
    this.x.fill(0);
    this.pc = pc | 0;
    this.mstatus = 0;
    this.mtvec = 0;
    this.mepc = 0;
    this.mcause = 0;
    this.mtval = 0;
    this.mscratch = 0;
    this.medeleg = 0;
    this.mideleg = 0;
    this.mie = 0;
    this.mipSoft = 0;
    this.stvec = 0;
    this.sepc = 0;
    this.scause = 0;
    this.stval = 0;
    this.sscratch = 0;
    this.satp = 0;
    this.mcounteren = 0;
    this.scounteren = 0;
    this.menvcfg = 0;
    this.senvcfg = 0;
    this.pmpcfg.fill(0);
    this.pmpaddr.fill(0);
    this.reservation = -1;
    this.wfi = false;
    this.updateMip();
    this.setPriv(Priv.Machine);
    this.translationChanged(true);
  }

  // --- the hot loop ---

  /**
   * Runs until instret reaches `end`, the hart sleeps in WFI, or `stop()` is called. With `exact`,
   * stops at `end` precisely by running the last instructions one at a time.
   */
  run(end: number, exact = false): void {
    this.stopRequested = false;
    while (this.instret < end && !this.wfi && !this.stopRequested) {
      const pc = this.pc;
      const host = this.fetchHost(pc);
      if (host >= 0) {
        const one = exact && end - this.instret < MAX_BLOCK;
        const page = (one ? this.single : this.blocks)[host >>> 12];
        const slot = (host & 0xfff) >>> 1;
        // Code embeds its virtual pc: the same RAM reached through another mapping needs its own block.
        let block = page?.code[slot];
        if (block === undefined || page!.pcs[slot] !== pc) {
          this.missHost = host;
          this.missOne = one;
          block = this.translateAndRun;
        }
        block(this);
      } else {
        this.trapped = false;
      }
      if ((this.mip & this.mie) !== 0) takeInterrupt(this);
    }
  }

  private stopRequested = false;
  /** Makes run() return after the current block (from a device callback or the SBI). */
  stop(): void {
    this.stopRequested = true;
  }

  /**
   * A miss goes through the same call as a block, a call V8 sees reach many functions, so it never
   * inlines translation into run(). It did: then it recompiled run(), at up to 100 ms a time, each
   * time some path of the translator ran for the first time.
   */
  private readonly translateAndRun: Block = () => this.translate(this.pc, this.missHost, this.missOne)(this);
  private missHost = 0;
  private missOne = false;

  private translate(pc: number, host: number, one: boolean): Block {
    const view = this.ram.view;
    if (straddles(view, host)) return () => this.straddle(pc, host);
    const page = host >>> 12;
    const cache = one ? this.single : this.blocks;
    const perPage = cache[page] ?? this.newPageBlocks(cache, page);
    const slot = (host & 0xfff) >>> 1;
    // Cold code runs as an operand stream through instruction templates; a block that keeps running is compiled.
    const block = one
      ? threadBlock(view, pc, host, 1, Infinity, () => {})
      : this.hotRuns === 0
        ? compileBlock(view, pc, host, MAX_BLOCK)
        : threadBlock(view, pc, host, MAX_BLOCK, this.hotRuns, () => {
            if (perPage.code[slot] === block && perPage.pcs[slot] === pc)
              perPage.code[slot] = compileBlock(view, pc, host, MAX_BLOCK);
          });
    perPage.code[slot] = block;
    perPage.pcs[slot] = pc;
    this.ram.setFlag(page, PageFlag.Code);
    return block;
  }

  private newPageBlocks(cache: (PageBlocks | undefined)[], page: number): PageBlocks {
    this.translatedPages.push(page);
    return (cache[page] = { code: new Array<Block>(SLOTS), pcs: new Int32Array(SLOTS) });
  }

  /**
   * Runs the 32-bit instruction at pc (RAM offset `host`) whose second half is on the next page,
   * fetched through that page's own translation: a fault there reports mtval = pc + 2, the half
   * that faulted, with mepc at the instruction. Never cached, since the next page may be remapped
   * or rewritten without this one knowing.
   */
  private straddle(pc: number, host: number): void {
    const high = this.fetchHost((pc + 2) | 0);
    if (high < 0) {
      this.trapped = false;
      return;
    }
    instructionBlock(this.mu16[host >>> 1]! | (this.mu16[high >>> 1]! << 16), pc)(this);
  }

  /** Forgets all translated code (RAM was replaced wholesale, e.g. by a restore). */
  dropTranslations(): void {
    // A guest that rewrites code pages over and over lists them again each time: past a bound, one sweep.
    if (this.translatedPages.length > this.blocks.length) {
      this.blocks.fill(undefined);
      this.single.fill(undefined);
    } else {
      for (const page of this.translatedPages) this.blocks[page] = this.single[page] = undefined;
    }
    this.translatedPages = [];
  }

  // --- RamWriteListener ---

  codeWritten(page: number): void {
    this.blocks[page] = undefined;
    this.single[page] = undefined;
  }

  writeProtected(page: number): void {
    for (const set of this.tlbSets) set.protect(page);
  }

  // --- privilege and translation state ---

  setPriv(p: Priv): void {
    this.priv = p;
    this.selectTlb();
  }

  /** satp, sfence.vma or an MXR change: translations below M are stale (all of them when `full`). */
  translationChanged(full: boolean): void {
    this.tlbS.flush();
    this.tlbSum.flush();
    this.tlbU.flush();
    if (full) this.tlbM.flush();
    this.selectTlb();
  }

  /** mstatus changed some of `bits`. SUM selects another TLB set rather than flushing one: Linux toggles it on every user copy. */
  mstatusChanged(bits: number): void {
    if (bits & Mstatus.MXR) this.translationChanged(false);
    else if (bits & (Mstatus.SUM | Mstatus.MPRV | Mstatus.MPP)) this.selectTlb();
  }

  private tlbFor(p: Priv, data: boolean): TlbSet {
    if (p === Priv.Machine) return this.tlbM;
    if (p === Priv.User) return this.tlbU;
    // S-mode data accesses with SUM set may reach user pages: those entries live in their own set.
    return data && this.mstatus & Mstatus.SUM ? this.tlbSum : this.tlbS;
  }

  private selectTlb(): void {
    const fetch = this.tlbFor(this.priv, false);
    this.dataPriv = this.priv === Priv.Machine && this.mstatus & Mstatus.MPRV ? mppOf(this.mstatus) : this.priv;
    const data = (this.dataSet = this.tlbFor(this.dataPriv, true));
    this.xT = fetch.xTag;
    this.xO = fetch.xOff;
    this.rT = data.rTag;
    this.rO = data.rOff;
    this.wT = data.wTag;
    this.wO = data.wOff;
  }

  // --- interrupts (HartInterruptPins) ---

  setPending(mask: number, level: boolean): void {
    this.mipHw = level ? this.mipHw | mask : this.mipHw & ~mask;
    this.updateMip();
  }

  updateMip(): void {
    this.mip = this.mipHw | this.mipSoft;
    if (this.wfi && (this.mip & this.mie) !== 0) {
      this.wfi = false;
      this.onWake?.();
    }
  }

  // --- traps ---

  /** Raises a synchronous exception at this.pc. Translated code then returns at once. */
  raise(cause: Cause, tval: number): void {
    enterTrap(this, cause, tval | 0, false);
    this.trapped = true;
    // A guest whose trap handler traps at once (mtvec at nothing, say) never retires another
    // instruction, so run() would never reach `end` nor return. After many traps with no
    // instruction retired in between, hand control back as stop() does; run() may be called again.
    if (this.instret !== this.stormInstret) {
      this.stormInstret = this.instret;
      this.stormTraps = 0;
    } else if (++this.stormTraps >= TRAP_STORM) {
      this.stormTraps = 0;
      this.stopRequested = true;
    }
  }

  /** instret at the last raise(), and how many traps in a row have come without it moving. */
  private stormInstret = -1;
  private stormTraps = 0;

  retired(): number {
    return this.instret + this.retiredOffset;
  }

  /** Sets minstret/mcycle as seen after the writing instruction retires. */
  setRetired(v: number): void {
    this.retiredOffset = v - (this.instret + 1);
  }

  /** Called when the guest reads the time CSR, so timer interrupts are pending by the time it sees the deadline pass. */
  onTimeRead: (() => void) | undefined;

  time(): number {
    this.onTimeRead?.();
    return this.clock.now();
  }

  // --- slow paths called by translated code; pc is the faulting instruction's ---

  /** Host RAM offset of the instruction parcel at pc, or -1 after raising a fetch fault. */
  private fetchHost(pc: number): number {
    const vpn = pc >>> 12;
    const i = vpn & TLB_MASK;
    return this.xT[i] === vpn ? (this.xO[i]! + pc) | 0 : this.fetchSlow(pc);
  }

  private fetchSlow(pc: number): number {
    const pa = translate(this.ram, this.satp, this.mstatus, pc, Access.Execute, this.priv);
    if (pa < 0) {
      this.raise(pa === PAGE_FAULT ? Cause.InstructionPageFault : Cause.InstructionAccessFault, pc);
      return -1;
    }
    const off = this.ram.offsetOf(pa, 2);
    if (off < 0) {
      this.raise(Cause.InstructionAccessFault, pc);
      return -1;
    }
    const set = this.tlbFor(this.priv, false);
    const i = (pc >>> 12) & TLB_MASK;
    set.xTag[i] = pc >>> 12;
    set.xOff[i] = entryOffset(pc, off & ~0xfff);
    return off;
  }

  /** Physical address for a data access, or -1 after raising the fault. Fills the read TLB. */
  private dataAddress(va: number, access: Access): number {
    const pa = translate(this.ram, this.satp, this.mstatus, va, access, this.dataPriv);
    if (pa < 0) {
      this.raise(pa === PAGE_FAULT ? PAGE_FAULT_CAUSE[access] : ACCESS_FAULT_CAUSE[access], va);
      return -1;
    }
    if (access === Access.Read) {
      const off = this.ram.offsetOf(pa);
      if (off >= 0) {
        const i = (va >>> 12) & TLB_MASK;
        this.rT[i] = va >>> 12;
        this.rO[i] = entryOffset(va, off & ~0xfff);
      }
    }
    return pa;
  }

  loadSlow(va: number, width: 1 | 2 | 4, signed: boolean): number {
    if (va & (width - 1)) return this.loadBytes(va, width as 2 | 4, signed);
    const pa = this.dataAddress(va, Access.Read);
    if (pa < 0) return 0;
    const off = this.ram.offsetOf(pa, width);
    let v: number | undefined;
    if (off >= 0) {
      const dv = this.ram.view;
      v = width === 4 ? dv.getInt32(off, true) : width === 2 ? dv.getUint16(off, true) : dv.getUint8(off);
    } else {
      v = this.bus.readMmio(pa, width);
      if (v === undefined) {
        this.raise(Cause.LoadAccessFault, va);
        return 0;
      }
    }
    return extend(v, width, signed);
  }

  /**
   * A misaligned load, done in hardware byte by byte (each byte translated: it may cross pages).
   * A fault leaves tval at the first byte that faulted, "the virtual address of the portion of the
   * access that caused the fault" (privileged spec, mtval): an OS pages in the page tval names.
   */
  private loadBytes(va: number, width: 2 | 4, signed: boolean): number {
    let v = 0;
    for (let b = 0; b < width; b++) {
      const byte = this.loadSlow((va + b) | 0, 1, false);
      if (this.trapped) return 0;
      v |= byte << (8 * b);
    }
    return extend(v, width, signed);
  }

  storeSlow(va: number, value: number, width: 1 | 2 | 4): void {
    if (va & (width - 1)) {
      // Byte by byte, like loadBytes (and with tval left at the faulting byte likewise).
      for (let b = 0; b < width; b++) {
        this.storeSlow((va + b) | 0, value >>> (8 * b), 1);
        if (this.trapped) return;
      }
      return;
    }
    const pa = this.dataAddress(va, Access.Write);
    if (pa < 0) return;
    const off = this.ram.offsetOf(pa, width);
    if (off < 0) {
      if (!this.bus.writeMmio(pa, width, value)) this.raise(Cause.StoreAccessFault, va);
      return;
    }
    const dv = this.ram.view;
    if (width === 4) dv.setInt32(off, value, true);
    else if (width === 2) dv.setInt16(off, value, true);
    else dv.setInt8(off, value);
    const page = off >>> 12;
    if (this.ram.pageFlags[page] !== 0) this.ram.noteWrite(off);
    if (this.ram.pageFlags[page] === 0) {
      const set = this.dataSet;
      const i = (va >>> 12) & TLB_MASK;
      set.wTag[i] = va >>> 12;
      set.wOff[i] = entryOffset(va, off & ~0xfff);
      set.wPage[i] = page;
    }
  }

  /** CSR instructions: mode 1 = write, 2 = set, 3 = clear. Returns false after raising illegal. */
  csrOp(mode: number, csr: number, rd: number, src: number, doWrite: boolean, insn: number): boolean {
    let old = 0;
    if (rd !== 0 || mode !== 1) {
      const r = csrRead(this, csr);
      if (r === ILLEGAL) {
        this.raise(Cause.IllegalInstruction, insn);
        return false;
      }
      old = r;
    }
    if (doWrite) {
      // In mip only the software-written bits take part in csrs/csrc (priv spec, mip): a device's
      // SEIP/STIP level read into `old` must not be latched into mipSoft.
      const base = csr === Csr.mip ? this.mipSoft : old;
      const v = mode === 1 ? src : mode === 2 ? base | src : base & ~src;
      if (!csrWrite(this, csr, v)) {
        this.raise(Cause.IllegalInstruction, insn);
        return false;
      }
    }
    if (rd !== 0) this.x[rd] = old;
    return true;
  }

  ecall(): void {
    if (this.priv === Priv.Supervisor && this.ecallHandler?.(this)) {
      this.pc = (this.pc + 4) | 0;
      this.instret++;
      return;
    }
    this.raise(Cause.EcallFromU + this.priv, 0);
  }

  /** mret / sret; false after raising illegal. */
  xret(machine: boolean, insn: number): void {
    if (!(machine ? mret(this) : sret(this))) this.raise(Cause.IllegalInstruction, insn);
    else this.instret++;
  }

  wfiInsn(insn: number): void {
    if (this.priv === Priv.User || (this.priv === Priv.Supervisor && this.mstatus & Mstatus.TW)) {
      this.raise(Cause.IllegalInstruction, insn);
      return;
    }
    this.pc = (this.pc + 4) | 0;
    this.instret++;
    if ((this.mip & this.mie) === 0) this.wfi = true;
  }

  sfenceVma(insn: number): void {
    if (this.priv === Priv.User || (this.priv === Priv.Supervisor && this.mstatus & Mstatus.TVM)) {
      this.raise(Cause.IllegalInstruction, insn);
      return;
    }
    const rs1 = (insn >>> 15) & 31;
    if (rs1 === 0) this.translationChanged(false);
    else this.forgetRegion(this.x[rs1]!);
    this.pc = (this.pc + 4) | 0;
    this.instret++;
  }

  /** sfence.vma for one address: Linux issues one per page-table update, too often for full flushes. */
  forgetRegion(va: number): void {
    for (const set of this.tlbSets) if (set !== this.tlbM) set.forgetRegion(va);
  }

  /** LR/SC and AMOs (A extension). Atomic by construction: one hart, one thread. */
  amo(op: number, rd: number, addr: number, src: number): void {
    const lr = op === Amo.Lr;
    if (addr & 3) {
      this.raise(lr ? Cause.LoadMisaligned : Cause.StoreMisaligned, addr);
      return;
    }
    const pa = this.dataAddress(addr, lr ? Access.Read : Access.Write);
    if (pa < 0) return;
    if (lr) {
      const v = this.loadPhys(pa, addr, Cause.LoadAccessFault);
      if (this.trapped) return;
      this.reservation = pa;
      if (rd) this.x[rd] = v;
      return;
    }
    if (op === Amo.Sc) {
      const ok = this.reservation === pa;
      this.reservation = -1;
      if (ok) this.storePhys(pa, addr, src);
      if (!this.trapped && rd) this.x[rd] = ok ? 0 : 1;
      return;
    }
    const old = this.loadPhys(pa, addr, Cause.StoreAccessFault);
    if (this.trapped) return;
    let v: number;
    switch (op) {
      case Amo.Swap:
        v = src;
        break;
      case Amo.Add:
        v = (old + src) | 0;
        break;
      case Amo.Xor:
        v = old ^ src;
        break;
      case Amo.And:
        v = old & src;
        break;
      case Amo.Or:
        v = old | src;
        break;
      case Amo.Min:
        v = old < src ? old : src;
        break;
      case Amo.Max:
        v = old > src ? old : src;
        break;
      case Amo.Minu:
        v = old >>> 0 < src >>> 0 ? old : src;
        break;
      case Amo.Maxu:
        v = old >>> 0 > src >>> 0 ? old : src;
        break;
      default:
        this.raise(Cause.IllegalInstruction, 0);
        return;
    }
    this.storePhys(pa, addr, v);
    if (!this.trapped && rd) this.x[rd] = old;
  }

  private loadPhys(pa: number, va: number, fault: Cause): number {
    const off = this.ram.offsetOf(pa, 4);
    if (off >= 0) return this.ram.view.getInt32(off, true);
    const v = this.bus.readMmio(pa, 4);
    if (v === undefined) {
      this.raise(fault, va);
      return 0;
    }
    return v | 0;
  }

  private storePhys(pa: number, va: number, v: number): void {
    const off = this.ram.offsetOf(pa, 4);
    if (off >= 0) {
      this.ram.view.setInt32(off, v, true);
      this.ram.noteWrite(off);
    } else if (!this.bus.writeMmio(pa, 4, v)) {
      this.raise(Cause.StoreAccessFault, va);
    }
  }
}

function extend(v: number, width: number, signed: boolean): number {
  if (width === 4) return v | 0;
  const shift = 32 - 8 * width;
  return signed ? (v << shift) >> shift : v & ((1 << (8 * width)) - 1);
}
