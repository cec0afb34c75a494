// Tiny M-mode bare-metal guests for the VM process tests, assembled here (with the hypervisor
// tests' encoder) so each does exactly what a test needs and nothing else:
// - ticker: a timer interrupt every PERIOD, sleeping in WFI in between, printing "tick N";
// - dirtier: on a byte from the console, stores to a known set of pages; on the next byte,
//   reads disk sectors into known pages through virtio-blk; then sleeps for good.
import { asm as A, buildElf } from '@hypernova/hypervisor/testing';

const { zero, t0, t1, t2, t3, t4, t5, a1, a2, a3, s0, s1, s2, s3, s4, s5 } = A;

export const RAM_BASE = 0x8000_0000;
const UART = 0x1000_0000;
const CLINT_MTIMECMP = 0x0200_4000;
const CLINT_MTIME = 0x0200_bff8;
const VIRTIO0 = 0x1000_1000;
const MIP_MTIP = 0x80;

/** A little assembler: instruction words with labels for branches and jumps. */
class Asm {
  private words: (number | ((pc: number) => number))[] = [];
  private labels = new Map<string, number>();

  constructor(private readonly base: number) {}

  get pc(): number {
    return this.base + 4 * this.words.length;
  }

  emit(...ws: (number | number[])[]): this {
    for (const w of ws) this.words.push(...(Array.isArray(w) ? w : [w]));
    return this;
  }

  label(name: string): this {
    this.labels.set(name, this.pc);
    return this;
  }

  /** A branch or jump to `label`: `make(offset)` encodes it once the label is known. */
  to(label: string, make: (off: number) => number): this {
    const at = this.pc;
    this.words.push(() => {
      const target = this.labels.get(label);
      if (target === undefined) throw new Error(`no label ${label}`);
      return make(target - at);
    });
    return this;
  }

  /** Prints a constant string on the UART (base in s1). */
  print(text: string): this {
    for (const c of Buffer.from(text, 'latin1')) this.emit(A.li(t5, c), A.sb(t5, s1, 0));
    return this;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(4 * this.words.length);
    const v = new DataView(out.buffer);
    this.words.forEach((w, i) => v.setUint32(4 * i, typeof w === 'number' ? w : w(this.base + 4 * i), true));
    return out;
  }
}

/** Prints register `reg` as 8 hex digits on the UART (base in s1); clobbers a1-a3. */
function printHex(a: Asm, reg: number, tag: string): void {
  a.emit(A.li(a1, 28));
  a.label(`${tag}.hex`);
  a.emit(A.srl(a2, reg, a1), A.andi(a2, a2, 15), A.addi(a3, a2, -10));
  a.to(`${tag}.digit`, (o) => A.blt(a3, zero, o));
  a.emit(A.addi(a2, a2, 39)); // 'a' - '0' - 10
  a.label(`${tag}.digit`);
  a.emit(A.addi(a2, a2, 48), A.sb(a2, s1, 0), A.addi(a1, a1, -4));
  a.to(`${tag}.hex`, (o) => A.bge(a1, zero, o));
}

/**
 * "tick XXXXXXXX" (hex count) every `periodTicks` of mtime (10 MHz), WFI in between. The count
 * lives in s3 and the deadline in t0/t1, so a restored machine must carry both on.
 */
export function tickerElf(periodTicks = 5_000_000): Uint8Array {
  const a = new Asm(RAM_BASE);
  a.emit(A.li(s1, UART), A.li(s2, periodTicks), A.li(s3, 0), A.li(s4, CLINT_MTIME), A.li(s5, CLINT_MTIMECMP));
  a.emit(A.li(t2, MIP_MTIP), A.csrw(A.CSR.mie, t2)); // MIE stays 0: the interrupt only ends WFI
  a.print('ticker: start\n');
  a.emit(A.lw(t0, s4, 0), A.lw(t1, s4, 4));
  a.label('loop');
  // deadline += period (64-bit), then mtimecmp = deadline (high word parked at ~0 meanwhile)
  a.emit(A.add(t2, t0, s2), A.sltu(t3, t2, t0), A.add(t1, t1, t3), A.mv(t0, t2));
  a.emit(A.li(t4, -1), A.sw(t4, s5, 4), A.sw(t0, s5, 0), A.sw(t1, s5, 4));
  a.label('wait');
  a.emit(A.wfi(), A.csrr(t2, A.CSR.mip), A.andi(t2, t2, MIP_MTIP));
  a.to('wait', (o) => A.beq(t2, zero, o));
  a.emit(A.addi(s3, s3, 1));
  a.print('tick ');
  printHex(a, s3, 'count');
  a.print('\n');
  a.to('loop', (o) => A.j(o));
  return buildElf({ entry: RAM_BASE, segments: [{ paddr: RAM_BASE, data: a.bytes() }] });
}

/** Pages (index from the start of RAM) the dirtier stores to in phase 1. */
export const CPU_PAGES = [0x20, 0x21, 0x400, 0x1234, 0x3fff];
/** Where virtio-blk reads land in phase 2: three pages of data, the status byte, the used ring. */
export const DMA_PAGES = { data: [0x200, 0x201, 0x202], status: 0x210, used: 0x211 };
/** The rings and request header live here, written at load time (before any dirty log). */
const QUEUE_PAGE = 0x100;
const QUEUE_SIZE = 8;

const pageAddr = (p: number): number => RAM_BASE + p * 4096;

/** The dirtier for a 64 MiB guest with a virtio-blk disk of at least 12 KiB in slot 0. */
export function dirtierElf(): Uint8Array {
  const a = new Asm(RAM_BASE);
  const waitByte = (tag: string): void => {
    a.label(tag);
    a.emit(A.lbu(t2, s1, 5), A.andi(t2, t2, 1));
    a.to(tag, (o) => A.beq(t2, zero, o));
    a.emit(A.lbu(t2, s1, 0));
  };
  a.emit(A.li(s1, UART));
  a.print('dirtier: ready\n');
  waitByte('wait1');
  // Phase 1: one store per page, of every width.
  CPU_PAGES.forEach((p, i) => {
    a.emit(A.li(t0, pageAddr(p) + 8 * i), A.li(t1, 0x5a5a_0000 + i));
    a.emit(i % 3 === 0 ? A.sw(t1, t0, 0) : i % 3 === 1 ? A.sh(t1, t0, 2) : A.sb(t1, t0, 1));
  });
  a.print('phase1\n');
  waitByte('wait2');
  // Phase 2: the virtio-mmio driver steps (virtio 1.x §4.2.3), queue 0, then one notify.
  const desc = pageAddr(QUEUE_PAGE);
  const avail = desc + 0x100;
  const regs: [number, number][] = [
    [0x070, 0],
    [0x070, 1],
    [0x070, 3],
    [0x024, 1],
    [0x020, 1],
    [0x024, 0],
    [0x020, 0], // VERSION_1 only
    [0x070, 0xb],
    [0x030, 0],
    [0x038, QUEUE_SIZE],
    [0x080, desc],
    [0x084, 0],
    [0x090, avail],
    [0x094, 0],
    [0x0a0, pageAddr(DMA_PAGES.used)],
    [0x0a4, 0],
    [0x044, 1],
    [0x070, 0xf],
    [0x050, 0],
  ];
  a.emit(A.li(s0, VIRTIO0));
  for (const [reg, value] of regs) a.emit(A.li(t1, value), A.sw(t1, s0, reg));
  a.emit(A.li(t0, pageAddr(DMA_PAGES.used)));
  a.label('poll');
  a.emit(A.lhu(t2, t0, 2));
  a.to('poll', (o) => A.beq(t2, zero, o));
  a.emit(A.li(t0, pageAddr(DMA_PAGES.status)), A.lbu(s3, t0, 0));
  a.print('phase2 status ');
  printHex(a, s3, 'status');
  a.print('\n');
  a.label('idle');
  a.emit(A.wfi());
  a.to('idle', (o) => A.j(o));

  // The request, prepared in the image: header, then 3 pages to read into, then the status byte.
  const q = new Uint8Array(0x300);
  const v = new DataView(q.buffer);
  const header = desc + 0x200;
  const setDesc = (i: number, addr: number, len: number, flags: number, next: number): void => {
    v.setUint32(16 * i, addr, true);
    v.setUint32(16 * i + 8, len, true);
    v.setUint16(16 * i + 12, flags, true);
    v.setUint16(16 * i + 14, next, true);
  };
  setDesc(0, header, 16, 1, 1); // NEXT
  setDesc(1, pageAddr(DMA_PAGES.data[0]!), 3 * 4096, 3, 2); // NEXT | WRITE
  setDesc(2, pageAddr(DMA_PAGES.status), 1, 2, 0); // WRITE
  v.setUint16(0x100 + 2, 1, true); // avail.idx = 1, ring[0] = 0
  v.setUint32(0x200, 0, true); // VIRTIO_BLK_T_IN, sector 0
  // The status byte starts as 0xff so the program shows the device wrote it.
  return buildElf({
    entry: RAM_BASE,
    segments: [
      { paddr: RAM_BASE, data: a.bytes() },
      { paddr: desc, data: q },
      { paddr: pageAddr(DMA_PAGES.status), data: Uint8Array.of(0xff) },
    ],
  });
}
