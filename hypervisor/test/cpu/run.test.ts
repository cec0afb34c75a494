// The run loop: exact stepping, and that nothing a guest does can throw out of run() or keep it
// from returning (random programs, trap handlers that trap).
import assert from 'node:assert/strict';
import { Mstatus } from '../../src/cpu/csr.js';
import { Priv } from '../../src/cpu/exceptions.js';
import * as A from '../../testing/asm.js';
import { a0, addi, CSR, csrw, t6, zero } from '../../testing/asm.js';
import { Rng } from '../../testing/block.js';
import { randomCode, skipper } from '../../testing/fuzz-cpu.js';
import { AD, CODE, M_TRAP, PageTables, randomWords, RAM_BASE, Rig, RWX, S_TRAP, UNMAPPED } from './rig.js';

describe('run', () => {
  describe('exact stepping', () => {
    const straight = (): Rig => {
      const rig = new Rig();
      rig.load(Array.from({ length: 200 }, () => addi(a0, a0, 1)));
      return rig.start();
    };

    it('stops at exactly `end` instructions in the middle of a block', () => {
      const rig = straight();
      for (const end of [1, 2, 37, 64, 65, 130]) {
        rig.hart.run(end, true);
        assert.equal(rig.hart.instret, end);
        assert.equal(rig.x(a0), end);
        assert.equal(rig.hart.pc >>> 0, CODE + 4 * end);
      }
    });

    it('without `exact`, run stops at a block boundary at or after `end`', () => {
      const rig = straight();
      rig.hart.run(10);
      assert.ok(rig.hart.instret >= 10);
      assert.equal(rig.x(a0), rig.hart.instret);
    });

    it('counts a taken branch loop exactly', () => {
      const rig = new Rig();
      rig.load([addi(a0, a0, 1), A.j(-4)]);
      rig.start().hart.run(1001, true);
      assert.equal(rig.hart.instret, 1001);
      assert.equal(rig.x(a0), 501);
    });

    it("a trapping instruction does not count; its handler's instructions do", () => {
      const rig = new Rig();
      rig.load([A.csrr(t6, CSR.mepc), addi(t6, t6, 4), csrw(CSR.mepc, t6), A.mret()], M_TRAP);
      rig.load([A.ebreak(), addi(a0, a0, 1), A.ebreak(), addi(a0, a0, 1)]);
      rig.start().hart.run(9, true);
      // ebreak (0) + handler (4) + addi + ebreak (0) + handler (4) = 9
      assert.equal(rig.hart.instret, 9);
      assert.equal(rig.x(a0), 1);
      assert.equal(rig.hart.pc >>> 0, CODE + 12);
    });
  });

  describe('translated code', () => {
    /** Writes a program behind the write hooks' back, as a restore of RAM does before dropTranslations. */
    const poke = (rig: Rig, program: number[], at: number): void => {
      const view = rig.ram.view;
      program.forEach((w, i) => view.setUint32(rig.ram.offsetOf(at) + 4 * i, w >>> 0, true));
    };

    it('dropTranslations forgets the blocks of every page translated since the last drop, and only then', () => {
      const rig = new Rig();
      const second = CODE + 0x2000;
      // Code on two pages: CODE jumps to the second page, which adds 1 and halts.
      rig.load([A.j(second - CODE)]);
      rig.load([addi(a0, a0, 1), A.wfi()], second);
      rig.start().runToHalt();
      assert.equal(rig.x(a0), 1);
      // Rewritten without the hooks seeing it: the stale translation still runs...
      poke(rig, [addi(a0, a0, 100), A.wfi()], second);
      rig.start().runToHalt();
      assert.equal(rig.x(a0), 2);
      // ...until the translations are dropped.
      rig.hart.dropTranslations();
      rig.start().runToHalt();
      assert.equal(rig.x(a0), 102);
      // Blocks made after a drop are dropped by the next one.
      poke(rig, [addi(a0, a0, 1000), A.wfi()], second);
      rig.hart.dropTranslations();
      rig.start().runToHalt();
      assert.equal(rig.x(a0), 1102);
    });
  });

  describe('robustness', () => {
    it('returns when the trap handler itself traps forever (mtvec points at nothing)', () => {
      const rig = new Rig();
      rig.hart.mtvec = UNMAPPED;
      rig.load([A.ebreak()]);
      rig.start().hart.run(1000);
      assert.ok(rig.hart.instret < 1000);
      rig.hart.run(1000); // and again: each call gives control back
    });

    it('returns when a handler faults on its first instruction, delegated from S to S', () => {
      const rig = new Rig();
      rig.hart.medeleg = 0xffff;
      rig.load([0], S_TRAP); // an illegal instruction as the S handler
      rig.load([0]);
      rig.start(CODE, Priv.Supervisor).hart.run(1000);
      assert.equal(rig.hart.scause, 2);
    });

    /**
     * A rig with 16 KiB of random code at CODE, run from there in `priv` (with RAM mapped by one
     * Sv32 superpage when `paging`). Random stores may well rewrite code and page tables.
     */
    function fuzzRig(priv: Priv, paging: boolean, seed: number, hotRuns?: number): Rig {
      const rig = new Rig();
      if (hotRuns !== undefined) rig.hart.hotRuns = hotRuns;
      rig.load(randomCode(new Rng(seed), 4096));
      rig.load(skipper(CSR.mepc, A.mret(), CODE), M_TRAP);
      rig.load(skipper(CSR.sepc, A.sret(), CODE), S_TRAP);
      if (priv === Priv.Supervisor) {
        rig.hart.medeleg = 0xb3ff;
        rig.hart.mstatus = Mstatus.SPP; // sret stays in S
      }
      if (paging) {
        const pt = new PageTables(rig, RAM_BASE + 0x4_0000, RAM_BASE + 0x4_1000).mapSuper(RAM_BASE, RAM_BASE, RWX | AD);
        rig.hart.satp = pt.satp;
        rig.hart.translationChanged(true);
      }
      return rig.start(CODE, priv);
    }

    /** Runs until `target` instructions have retired; run() may return early (WFI, a trap storm): go on like the machine loop does, a bounded number of times. */
    function runFuzz(rig: Rig, target: number): void {
      for (let calls = 0; calls < 100 && rig.hart.instret < target; calls++) {
        rig.hart.wfi = false;
        rig.hart.run(target);
      }
    }

    // [mode, Sv32 on, seed]
    const FUZZ: Array<[Priv, boolean, number]> = [1, 2, 3, 4].flatMap((seed): Array<[Priv, boolean, number]> => [
      [Priv.Machine, false, seed],
      [Priv.Supervisor, false, seed + 100],
      [Priv.Supervisor, true, seed + 200],
    ]);
    const modeName = (priv: Priv, paging: boolean): string =>
      priv === Priv.Machine ? 'M' : paging ? 'S with Sv32' : 'S';
    // That random code never throws, hangs or strays: test/fuzz/cpu.test.ts.
    // The translator (every block compiled at once) against the interpreter (templates only).
    for (const [priv, paging, seed] of FUZZ) {
      it(`random code in ${modeName(priv, paging)} mode (seed ${seed}): both tiers end in the same state`, function () {
        this.timeout(120_000);
        const [interpreted, compiled] = [Infinity, 0].map((hotRuns) => {
          const rig = fuzzRig(priv, paging, seed, hotRuns);
          runFuzz(rig, 50_000);
          return rig;
        });
        const state = (rig: Rig): object => {
          const h = rig.hart;
          const { pc, priv, instret, mstatus, mepc, mcause, mtval, sepc, scause, stval } = h;
          return { x: [...h.x], pc, priv, instret, mstatus, mepc, mcause, mtval, sepc, scause, stval };
        };
        assert.deepEqual(state(compiled!), state(interpreted!));
        assert.ok(Buffer.from(compiled!.ram.bytes).equals(Buffer.from(interpreted!.ram.bytes)), 'RAM is the same');
      });
    }

    it('random words as page tables never throw', () => {
      const rig = new Rig();
      const next = randomWords(7);
      const root = RAM_BASE + 0x4_0000;
      rig.ram.dmaWrite(root, new Uint8Array(Int32Array.from({ length: 2048 }, next).buffer));
      rig.load([A.lw(a0, a0, 0), A.sw(a0, a0, 0), A.jalr(zero, a0, 0)]);
      for (let i = 0; i < 200; i++) {
        rig.hart.satp = 0x8000_0000 | (root / 4096) | (next() & 1) | 0;
        rig.hart.translationChanged(true);
        rig.hart.x[a0] = next();
        rig.start(CODE, Priv.Machine);
        rig.hart.mstatus = Mstatus.MPRV | (Priv.Supervisor << 11) | (next() & (Mstatus.SUM | Mstatus.MXR));
        rig.hart.translationChanged(false);
        rig.hart.run(rig.hart.instret + 5);
      }
    });
  });
});
