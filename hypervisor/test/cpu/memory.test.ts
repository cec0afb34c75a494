// The memory side of the hart: misaligned accesses done in hardware (also across pages),
// access faults where nothing is mapped, MMIO through the bus, the dirty log, and translated
// code dropped when its page is written (self-modifying code, DMA).
import assert from 'node:assert/strict';
import type { AccessWidth, MmioDevice } from '../../src/bus/device.js';
import { Cause, Priv } from '../../src/cpu/exceptions.js';
import * as A from '../../testing/asm.js';
import { a0, a1, a2, a3, addi, fence_i, j, li, lw, s0, s1, sw, t0, zero } from '../../testing/asm.js';
import { AD, CODE, DATA, PageTables, Pte, RAM_BASE, Rig, RWX, UNMAPPED } from './rig.js';

const RAM_SIZE = 1 << 20;
const RAM_END = RAM_BASE + RAM_SIZE;
const pageOf = (pa: number): number => (pa - RAM_BASE) >>> 12;

describe('memory', () => {
  describe('misaligned loads and stores (done in hardware)', () => {
    const BYTES = [0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88];
    // [op, offset, value]: little-endian, sign- or zero-extended.
    const LOADS: Array<[string, (rd: number, rs1: number, imm: number) => number, number, number]> = [
      ['lh', A.lh, 1, -0x7c7e],
      ['lhu', A.lhu, 1, 0x8382],
      ['lh', A.lh, 3, -0x7a7c],
      ['lw', A.lw, 1, -0x7a7b7c7e],
      ['lw', A.lw, 2, -0x797a7b7d],
      ['lw', A.lw, 3, -0x78797a7c],
    ];
    for (const [name, op, off, want] of LOADS) {
      it(`${name} at +${off}`, () => {
        const rig = new Rig();
        rig.ram.dmaWrite(DATA, Uint8Array.from(BYTES));
        rig.exec([li(s0, DATA), op(a0, s0, off), op(a1, s0, off)]);
        assert.equal(rig.x(a0), want);
        assert.equal(rig.x(a1), want);
      });
    }
    it('sh and sw at odd addresses write the right bytes', () => {
      const rig = new Rig().exec([li(s0, DATA), li(a0, 0x4433_2211), A.sw(a0, s0, 1), A.sh(a0, s0, 7)]);
      assert.deepEqual(
        Array.from({ length: 10 }, (_, i) => rig.read8(DATA + i)),
        [0, 0x11, 0x22, 0x33, 0x44, 0, 0, 0x11, 0x22, 0],
      );
    });
    it('a word across a page boundary (physically contiguous)', () => {
      const rig = new Rig();
      rig.ram.dmaWrite(DATA + 0xffe, Uint8Array.from([1, 2, 3, 4]));
      rig.exec([li(s0, DATA + 0xffe), lw(a0, s0, 0), li(a1, 0x0d0c_0b0a), sw(a1, s0, 0), lw(a2, s0, 0)]);
      assert.equal(rig.u(a0), 0x0403_0201);
      assert.equal(rig.u(a2), 0x0d0c_0b0a);
    });

    /** Two virtual pages at VA that map to physical pages in the opposite order. */
    function splitPages(): { rig: Rig; pt: PageTables; va: number } {
      const rig = new Rig();
      const pt = new PageTables(rig, RAM_BASE + 0x4_0000, RAM_BASE + 0x4_1000);
      pt.mapSuper(RAM_BASE, RAM_BASE, RWX | AD);
      const va = 0x4000_0000;
      pt.map(va, DATA + 0x1000, Pte.R | Pte.W | AD).map(va + 0x1000, DATA, Pte.R | Pte.W | AD);
      rig.hart.satp = pt.satp;
      rig.hart.translationChanged(true);
      return { rig, pt, va };
    }
    it('a word across a virtual page boundary takes each half from its own physical page', () => {
      const { rig, va } = splitPages();
      rig.ram.dmaWrite(DATA + 0x1ffe, Uint8Array.from([1, 2]));
      rig.ram.dmaWrite(DATA, Uint8Array.from([3, 4]));
      rig.exec([li(s0, va + 0xffe), lw(a0, s0, 0), li(a1, 0x0d0c_0b0a), sw(a1, s0, 0)], Priv.Supervisor);
      assert.equal(rig.u(a0), 0x0403_0201);
      assert.deepEqual(
        [rig.read8(DATA + 0x1ffe), rig.read8(DATA + 0x1fff), rig.read8(DATA), rig.read8(DATA + 1)],
        [0x0a, 0x0b, 0x0c, 0x0d],
      );
    });
    it('when the second page faults, tval is the address of the part that faulted', () => {
      // Privileged spec, mtval: "the virtual address of the portion of the access that caused the
      // fault". Reporting the access's own address would make an OS fault in the wrong page, forever.
      for (const [store, cause] of [
        [false, Cause.LoadPageFault],
        [true, Cause.StorePageFault],
      ] as const) {
        const { rig, pt, va } = splitPages();
        pt.setPte(va + 0x1000, 0);
        rig.exec([li(s0, va + 0xffd), store ? sw(a1, s0, 0) : lw(a0, s0, 0)], Priv.Supervisor);
        assert.deepEqual(rig.mTrap(), { cause, epc: CODE + 8, tval: va + 0x1000 }, store ? 'store' : 'load');
      }
    });
    it('when the first page faults, tval is the access address', () => {
      const { rig, pt, va } = splitPages();
      pt.setPte(va, 0);
      rig.exec([li(s0, va + 0xffe), lw(a0, s0, 0)], Priv.Supervisor);
      assert.deepEqual(rig.mTrap(), { cause: Cause.LoadPageFault, epc: CODE + 8, tval: va + 0xffe });
    });
    it('a word straddling the end of RAM: access fault at the first byte past it', () => {
      const rig = new Rig().exec([li(s0, RAM_END - 2), lw(a0, s0, 0)]);
      assert.deepEqual(rig.mTrap(), { cause: Cause.LoadAccessFault, epc: CODE + 8, tval: RAM_END });
    });
  });

  describe('access faults', () => {
    const ADDRESSES = [UNMAPPED, 0, RAM_END, RAM_BASE - 4, 0xffff_fffc];
    it('loads from nothing: cause 5, tval = the address; rd unchanged', () => {
      for (const addr of ADDRESSES) {
        for (const op of [A.lw, A.lh, A.lbu]) {
          const rig = new Rig().exec([li(a0, 0x77), li(s0, addr), op(a0, s0, 0)]);
          assert.deepEqual(rig.mTrap(), { cause: Cause.LoadAccessFault, epc: CODE + 16, tval: addr >>> 0 });
          assert.equal(rig.x(a0), 0x77);
        }
      }
    });
    it('stores to nothing: cause 7, tval = the address', () => {
      for (const addr of ADDRESSES) {
        for (const op of [A.sw, A.sh, A.sb]) {
          const rig = new Rig().exec([li(s0, addr), op(a0, s0, 0)]);
          assert.deepEqual(rig.mTrap(), { cause: Cause.StoreAccessFault, epc: CODE + 8, tval: addr >>> 0 });
        }
      }
    });
    it('fetches from nothing: cause 1, mepc = mtval = the address', () => {
      for (const addr of ADDRESSES) {
        const rig = new Rig().exec([li(s0, addr), A.jalr(zero, s0, 0)]);
        assert.deepEqual(rig.mTrap(), { cause: Cause.InstructionAccessFault, epc: addr >>> 0, tval: addr >>> 0 });
      }
    });
    it('running off the end of RAM faults at RAM_END', () => {
      const rig = new Rig();
      rig.load([A.nop(), A.nop()], RAM_END - 8);
      rig.exec([li(s0, RAM_END - 8), A.jalr(zero, s0, 0)]);
      assert.deepEqual(rig.mTrap(), { cause: Cause.InstructionAccessFault, epc: RAM_END, tval: RAM_END });
    });
  });

  describe('MMIO', () => {
    class Recorder implements MmioDevice {
      readonly name = 'recorder';
      log: string[] = [];
      read(offset: number, width: AccessWidth): number {
        this.log.push(`r${width}@${offset}`);
        return 0xfedc_ba98;
      }
      write(offset: number, width: AccessWidth, value: number): void {
        this.log.push(`w${width}@${offset}=${value.toString(16)}`);
      }
    }
    it('loads and stores reach the device with offset, width and only the bytes accessed', () => {
      const rig = new Rig();
      const dev = new Recorder();
      rig.bus.map(0x1000_0000, 0x100, dev);
      rig.exec([
        li(s0, 0x1000_0000),
        li(a1, -2),
        A.lw(a0, s0, 8),
        A.lb(a2, s0, 1),
        A.lhu(a3, s0, 2),
        A.sw(a1, s0, 4),
        A.sb(a1, s0, 5),
        A.sh(a1, s0, 6),
      ]);
      assert.equal(rig.u(a0), 0xfedc_ba98);
      assert.equal(rig.x(a2), -0x68, 'lb sign-extends the low byte 0x98');
      assert.equal(rig.x(a3), 0xba98);
      // Narrow stores carry only their own bytes.
      assert.deepEqual(dev.log, ['r4@8', 'r1@1', 'r2@2', 'w4@4=fffffffe', 'w1@5=fe', 'w2@6=fffe']);
    });
    it('a device can stop run() from a register write', () => {
      const rig = new Rig();
      rig.bus.map(0x1000_0000, 0x100, {
        name: 'stopper',
        read: () => 0,
        write: () => rig.hart.stop(),
      });
      rig.load([li(s0, 0x1000_0000), sw(zero, s0, 0), j(0)]);
      rig.start().hart.run(1_000_000);
      assert.ok(rig.hart.instret < 1000, `run returned soon after the write (instret ${rig.hart.instret})`);
    });
  });

  describe('dirty log', () => {
    /** A rig whose program is loaded and whose log is started and empty. */
    function logging(program: ReadonlyArray<number | readonly number[]>): Rig {
      const rig = new Rig();
      rig.load([...program, A.wfi()]);
      rig.ram.startDirtyLog();
      return rig;
    }
    const run = (rig: Rig): number[] => {
      rig.start().runToHalt();
      return rig.ram.fetchDirtyLog();
    };

    it('reports exactly the pages CPU stores wrote (sw, sh, sb, AMO, SC, misaligned across pages)', () => {
      const rig = logging([
        li(s0, DATA),
        A.sw(zero, s0, 0),
        A.sw(zero, s0, 4), // page 0 of DATA, twice
        li(s0, DATA + 0x1000),
        A.sh(zero, s0, 2),
        li(s0, DATA + 0x2000),
        A.sb(zero, s0, 3),
        li(s0, DATA + 0x3000),
        A.amoadd_w(zero, zero, s0),
        li(s0, DATA + 0x4000),
        A.lr_w(a0, s0),
        A.sc_w(a1, zero, s0),
        li(s0, DATA + 0x5ffe),
        A.sw(zero, s0, 0), // DATA+5 and DATA+6
        li(s0, DATA + 0x8000),
        A.lw(a0, s0, 0),
        A.lr_w(a0, s0), // loads dirty nothing
      ]);
      assert.deepEqual(
        run(rig),
        [0, 1, 2, 3, 4, 5, 6].map((p) => pageOf(DATA) + p),
      );
    });

    it('reports pages that were written before logging started (their write TLB entries are dropped)', () => {
      const rig = new Rig();
      rig.load([li(s0, DATA), li(a0, 1), A.sw(a0, s0, 0), A.sw(a0, s0, 4), A.wfi()]);
      rig.start().runToHalt(); // stores fill the write TLB for DATA
      rig.ram.startDirtyLog();
      assert.deepEqual(run(rig), [pageOf(DATA)]);
    });

    it('re-arms after a fetch: the same page is reported again only when written again', () => {
      const rig = logging([li(s0, DATA), A.sw(zero, s0, 0)]);
      assert.deepEqual(run(rig), [pageOf(DATA)]);
      assert.deepEqual(rig.ram.fetchDirtyLog(), []);
      assert.deepEqual(run(rig), [pageOf(DATA)]);
    });

    it('reports DMA writes, and stops recording after stopDirtyLog', () => {
      const rig = logging([li(s0, DATA), A.sw(zero, s0, 0)]);
      rig.ram.dmaWrite(DATA + 0x2ffc, new Uint8Array(8));
      assert.deepEqual(rig.ram.fetchDirtyLog(), [pageOf(DATA) + 2, pageOf(DATA) + 3]);
      rig.ram.stopDirtyLog();
      assert.deepEqual(run(rig), []);
    });

    it('hardware A/D updates dirty the page-table page', () => {
      const rig = new Rig();
      const pt = new PageTables(rig, RAM_BASE + 0x4_0000, RAM_BASE + 0x4_1000);
      pt.mapSuper(RAM_BASE, RAM_BASE, RWX | AD);
      pt.map(0x4000_0000, DATA, Pte.R | Pte.W); // A and D clear
      rig.hart.satp = pt.satp;
      rig.hart.translationChanged(true);
      rig.load([li(s0, 0x4000_0000), lw(a0, s0, 0), A.ecall()]);
      rig.ram.startDirtyLog();
      rig.start(CODE, Priv.Supervisor).runToHalt();
      assert.deepEqual(rig.ram.fetchDirtyLog(), [pageOf(RAM_BASE + 0x4_1000)]);
    });
  });

  describe('self-modifying code', () => {
    it('a store over translated code, then fence.i, runs the new instruction', () => {
      const rig = new Rig();
      const target = CODE + 0x40;
      rig.load([addi(a0, a0, 1), A.jalr(zero, s1, 0)], target);
      rig.exec([
        li(s0, target),
        A.auipc(s1, 0),
        addi(s1, s1, 12),
        A.jalr(zero, s0, 0), // run it once; come back here
        li(a1, addi(a0, a0, 100)),
        sw(a1, s0, 0),
        fence_i(),
        A.auipc(s1, 0),
        addi(s1, s1, 12),
        A.jalr(zero, s0, 0), // run it again
      ]);
      assert.equal(rig.x(a0), 101);
    });

    it('code the program wrote itself, on a page it wrote before as data (through the write TLB)', () => {
      const rig = new Rig();
      const page = DATA + 0x1000;
      const ret = A.jalr(zero, s1, 0);
      const body = (insn: number): number[] =>
        [
          li(a1, insn),
          sw(a1, s0, 0),
          li(a1, ret),
          sw(a1, s0, 4),
          fence_i(),
          A.auipc(s1, 0),
          addi(s1, s1, 12),
          A.jalr(zero, s0, 0),
        ].flat();
      rig.exec([li(s0, page), ...body(addi(a0, zero, 5)), A.mv(a2, a0), ...body(addi(a0, zero, 7))]);
      assert.deepEqual([rig.x(a2), rig.x(a0)], [5, 7]);
    });

    it('an AMO over translated code drops it too', () => {
      const rig = new Rig();
      const target = CODE + 0x40;
      rig.load([addi(a0, a0, 1), A.jalr(zero, s1, 0)], target);
      rig.exec([
        li(s0, target),
        A.auipc(s1, 0),
        addi(s1, s1, 12),
        A.jalr(zero, s0, 0),
        li(a1, addi(a0, a0, 10)),
        A.amoswap_w(zero, a1, s0),
        fence_i(),
        A.auipc(s1, 0),
        addi(s1, s1, 12),
        A.jalr(zero, s0, 0),
      ]);
      assert.equal(rig.x(a0), 11);
    });

    it('a store through another virtual alias of the code page drops it', () => {
      const rig = new Rig();
      const pt = new PageTables(rig, RAM_BASE + 0x4_0000, RAM_BASE + 0x4_1000);
      pt.mapSuper(RAM_BASE, RAM_BASE, RWX | AD);
      const codeVa = 0x4000_0000;
      const dataVa = 0x4000_1000;
      const pa = DATA + 0x3000;
      pt.map(codeVa, pa, Pte.R | Pte.X | AD).map(dataVa, pa, Pte.R | Pte.W | AD);
      rig.hart.satp = pt.satp;
      rig.hart.translationChanged(true);
      rig.load([addi(a0, a0, 1), A.jalr(zero, s1, 0)], pa);
      rig.exec(
        [
          li(s0, codeVa),
          A.auipc(s1, 0),
          addi(s1, s1, 12),
          A.jalr(zero, s0, 0),
          li(t0, dataVa),
          li(a1, addi(a0, a0, 10)),
          sw(a1, t0, 0),
          fence_i(),
          A.auipc(s1, 0),
          addi(s1, s1, 12),
          A.jalr(zero, s0, 0),
        ],
        Priv.Supervisor,
      );
      assert.equal(rig.x(a0), 11);
    });

    it('exact stepping (one-instruction blocks) sees new code as well', () => {
      const rig = new Rig();
      rig.load([addi(a0, zero, 1), addi(a0, a0, 1), A.wfi()]);
      rig.start().step(2);
      assert.equal(rig.x(a0), 2);
      rig.load([addi(a0, zero, 5), addi(a0, a0, 5)]);
      rig.start().step(2);
      assert.equal(rig.x(a0), 10);
    });

    it('a DMA write over translated code drops it', () => {
      const rig = new Rig().exec([addi(a0, zero, 1)]);
      assert.equal(rig.x(a0), 1);
      rig.exec([addi(a0, zero, 2)]);
      assert.equal(rig.x(a0), 2);
    });
  });
});
