// Sv32: page walks over tables built in RAM, permissions (U, SUM, MXR), hardware A/D updates,
// superpages, faults and their tval, the TLB (stale until sfence.vma or a satp write), MPRV,
// and translated code that is reached through more than one virtual address.
import assert from 'node:assert/strict';
import { Mstatus } from '../../src/cpu/csr.js';
import { Cause, Priv } from '../../src/cpu/exceptions.js';
import * as A from '../../testing/asm.js';
import { a0, a1, a2, a3, a4, CSR, csrr, csrw, ecall, li, lw, sw, t0, zero } from '../../testing/asm.js';
import { AD, CODE, DATA, M_TRAP, PageTables, Pte, RAM_BASE, Rig, RWX, type Trap } from './rig.js';

const ROOT = RAM_BASE + 0x4_0000;
const POOL = RAM_BASE + 0x4_1000;
/** The test page's virtual address and its physical page; +0x100 holds an ecall, so a fetch there ends the probe. */
const VA = 0x4000_0000;
const TARGET = DATA;
const OFF = 0x100;
/** U-mode code lives in a page of its own, mapped with U. */
const U_CODE_VA = 0x0001_0000;
const U_CODE_PA = RAM_BASE + 0x8000;

/** A rig with paging on: RAM identity-mapped by a supervisor superpage, a U code page, nothing at VA yet. */
function paged(): { rig: Rig; pt: PageTables } {
  const rig = new Rig();
  const pt = new PageTables(rig, ROOT, POOL);
  pt.mapSuper(RAM_BASE, RAM_BASE, RWX | AD);
  pt.map(U_CODE_VA, U_CODE_PA, Pte.U | Pte.R | Pte.X | AD);
  rig.write32(TARGET + OFF, ecall());
  rig.hart.satp = pt.satp;
  rig.hart.translationChanged(true);
  return { rig, pt };
}

type Kind = 'load' | 'store' | 'fetch';
const ACCESS: Record<Kind, (base: number) => number> = {
  load: (r) => lw(a0, r, 0),
  store: (r) => sw(a2, r, 0),
  fetch: (r) => A.jalr(zero, r, 0),
};

/** Runs one access to `va` in `priv` (code at CODE for S, at the U page for U) and returns the trap into M. */
function probe(rig: Rig, priv: Priv, kind: Kind, va: number): Trap {
  const [code, pa] = priv === Priv.User ? [U_CODE_VA, U_CODE_PA] : [CODE, CODE];
  rig.load([li(a1, va), ACCESS[kind](a1), ecall()], pa);
  rig.start(code, priv).runToHalt();
  return rig.mTrap();
}

/** What probe() gives back for an access that worked, or one that faulted with `cause`. */
function expected(priv: Priv, kind: Kind, va: number, cause: number | 'ok'): Trap {
  const code = priv === Priv.User ? U_CODE_VA : CODE;
  if (cause === 'ok') return { cause: Cause.EcallFromU + priv, epc: kind === 'fetch' ? va : code + 12, tval: 0 };
  return { cause, epc: kind === 'fetch' ? va : code + 8, tval: va >>> 0 };
}

const S = Priv.Supervisor;
const U = Priv.User;
const { R, W, X } = Pte;

// [privilege, leaf flags (V added), mstatus bits, access, outcome]
const PERMISSIONS: Array<[Priv, number, number, Kind, number | 'ok']> = [
  [S, R, 0, 'load', 'ok'],
  [S, R, 0, 'store', Cause.StorePageFault],
  [S, R, 0, 'fetch', Cause.InstructionPageFault],
  [S, R | W, 0, 'store', 'ok'],
  [S, X, 0, 'fetch', 'ok'],
  [S, X, 0, 'load', Cause.LoadPageFault],
  [S, X, Mstatus.MXR, 'load', 'ok'],
  [S, X, Mstatus.MXR, 'store', Cause.StorePageFault],
  [S, RWX | Pte.U, 0, 'load', Cause.LoadPageFault],
  [S, RWX | Pte.U, 0, 'store', Cause.StorePageFault],
  [S, RWX | Pte.U, Mstatus.SUM, 'load', 'ok'],
  [S, RWX | Pte.U, Mstatus.SUM, 'store', 'ok'],
  [S, RWX | Pte.U, Mstatus.SUM, 'fetch', Cause.InstructionPageFault],
  [S, W, 0, 'load', Cause.LoadPageFault],
  [S, W | X, 0, 'store', Cause.StorePageFault], // W without R is reserved
  [U, Pte.U | R, 0, 'load', 'ok'],
  [U, Pte.U | R | W, 0, 'store', 'ok'],
  [U, Pte.U | X, 0, 'fetch', 'ok'],
  [U, Pte.U | X, 0, 'load', Cause.LoadPageFault],
  [U, Pte.U | X, Mstatus.MXR, 'load', 'ok'],
  [U, RWX, 0, 'load', Cause.LoadPageFault],
  [U, RWX, Mstatus.SUM, 'load', Cause.LoadPageFault],
  [U, RWX, 0, 'store', Cause.StorePageFault],
  [U, RWX, 0, 'fetch', Cause.InstructionPageFault],
];

describe('Sv32', () => {
  describe('permissions', () => {
    for (const [priv, flags, bits, kind, outcome] of PERMISSIONS) {
      const name = (['R', 'W', 'X', 'U'] as const).filter((n) => flags & Pte[n]).join('');
      const status = (bits & Mstatus.SUM ? ' with SUM' : '') + (bits & Mstatus.MXR ? ' with MXR' : '');
      it(`${priv === S ? 'S' : 'U'} ${kind} of a ${name} page${status}: ${outcome === 'ok' ? 'allowed' : `fault ${outcome}`}`, () => {
        const { rig, pt } = paged();
        pt.map(VA, TARGET, flags | AD);
        rig.hart.mstatus = bits;
        assert.deepEqual(probe(rig, priv, kind, VA + OFF), expected(priv, kind, VA + OFF, outcome));
      });
    }

    it('loads and stores through a mapping reach the physical page', () => {
      const { rig, pt } = paged();
      pt.map(VA, TARGET, R | W | AD);
      rig.exec([li(a1, VA + 0x10), li(a2, 0x1234_5678), sw(a2, a1, 0), lw(a0, a1, OFF - 0x10)], S);
      assert.equal(rig.read32(TARGET + 0x10), 0x1234_5678);
      assert.equal(rig.x(a0), ecall());
    });
  });

  describe('invalid entries', () => {
    // [what, how to break the walk for VA]
    const BROKEN: Array<[string, (pt: PageTables) => void]> = [
      ['no level-1 entry', () => {}],
      ['leaf with V = 0', (pt) => pt.map(VA, TARGET, RWX | AD).setPte(VA, (pt.pte(VA) & ~Pte.V) >>> 0)],
      ['a pointer at level 0', (pt) => pt.map(VA, TARGET, RWX | AD).setPte(VA, ((TARGET / 4096) << 10) | Pte.V)],
      ['a level-1 pointer with W but not R', (pt) => pt.map(VA, TARGET, RWX | AD).setPte(VA, pt.pte(VA, 1) | Pte.W, 1)],
    ];
    const FAULT: Record<Kind, number> = {
      load: Cause.LoadPageFault,
      store: Cause.StorePageFault,
      fetch: Cause.InstructionPageFault,
    };
    for (const [what, breakIt] of BROKEN) {
      it(`${what}: page fault of the access's type with tval = the address`, () => {
        for (const kind of ['load', 'store', 'fetch'] as const) {
          const { rig, pt } = paged();
          breakIt(pt);
          assert.deepEqual(probe(rig, S, kind, VA + OFF), expected(S, kind, VA + OFF, FAULT[kind]), kind);
        }
      });
    }

    it('a page fault delegated to S sets scause/sepc/stval and SPP', () => {
      const { rig } = paged();
      rig.hart.medeleg = 1 << Cause.LoadPageFault;
      rig.load([li(a1, VA + 4), lw(a0, a1, 0)], U_CODE_PA);
      rig.start(U_CODE_VA, U).runToHalt();
      assert.deepEqual(rig.sTrap(), { cause: Cause.LoadPageFault, epc: U_CODE_VA + 8, tval: VA + 4 });
      assert.equal(rig.hart.mstatus & Mstatus.SPP, 0);
    });
  });

  describe('physical addresses that are not RAM', () => {
    const ACCESS_FAULT: Record<Kind, number> = {
      load: Cause.LoadAccessFault,
      store: Cause.StoreAccessFault,
      fetch: Cause.InstructionAccessFault,
    };
    for (const [what, pa] of [
      ['a hole in the 32-bit map', 0x4000_0000],
      ['above 4 GiB (34-bit PA)', 0x1_8000_0000 + (TARGET - RAM_BASE)],
    ] as const) {
      it(`a leaf pointing at ${what} gives access faults with tval = the virtual address`, () => {
        for (const kind of ['load', 'store', 'fetch'] as const) {
          const { rig, pt } = paged();
          pt.map(VA, pa, RWX | AD);
          assert.deepEqual(probe(rig, S, kind, VA + OFF), expected(S, kind, VA + OFF, ACCESS_FAULT[kind]), kind);
        }
      });
    }
    it('a level-1 entry pointing at a table above 4 GiB gives an access fault, not the table 4 GiB lower', () => {
      const { rig, pt } = paged();
      pt.map(VA, TARGET, RWX | AD);
      const l1 = pt.pte(VA, 1);
      pt.setPte(VA, (l1 + (0x10_0000 << 10)) >>> 0, 1); // PPN + 2^20 pages = PA + 4 GiB
      assert.deepEqual(probe(rig, S, 'load', VA + OFF), expected(S, 'load', VA + OFF, Cause.LoadAccessFault));
    });
    it('a page table outside RAM gives an access fault', () => {
      const { rig } = paged();
      rig.hart.satp = 0x8000_0000 | (0x4000_0000 / 4096) | 0;
      rig.hart.translationChanged(true);
      rig.hart.mtvec = M_TRAP;
      rig.load([li(a1, VA), lw(a0, a1, 0)], CODE);
      // Fetch itself needs the tables: the first fetch in S faults.
      rig.start(CODE, S).runToHalt();
      assert.deepEqual(rig.mTrap(), { cause: Cause.InstructionAccessFault, epc: CODE, tval: CODE });
    });
  });

  describe('superpages', () => {
    it('a 4 MiB page maps every offset inside it', () => {
      const { rig, pt } = paged();
      pt.mapSuper(VA, RAM_BASE, R | W | AD);
      assert.deepEqual(probe(rig, S, 'load', VA + (TARGET - RAM_BASE) + OFF), expected(S, 'load', 0, 'ok'));
      assert.equal(rig.x(a0), ecall());
    });
    it('a superpage whose PPN[0] is not zero is misaligned: page fault', () => {
      for (const kind of ['load', 'store', 'fetch'] as const) {
        const { rig, pt } = paged();
        pt.mapSuper(VA, RAM_BASE + 0x1000, RWX | AD);
        const cause = { load: Cause.LoadPageFault, store: Cause.StorePageFault, fetch: Cause.InstructionPageFault }[
          kind
        ];
        assert.deepEqual(probe(rig, S, kind, VA + OFF), expected(S, kind, VA + OFF, cause), kind);
      }
    });
  });

  describe('accessed and dirty bits', () => {
    it('a load sets A, a store sets A and D, a fetch sets A', () => {
      for (const [kind, want] of [
        ['load', Pte.A],
        ['store', AD],
        ['fetch', Pte.A],
      ] as const) {
        const { rig, pt } = paged();
        pt.map(VA, TARGET, RWX);
        probe(rig, S, kind, VA + OFF);
        assert.equal(pt.pte(VA) & AD, want, kind);
      }
    });
    it('a store after a load (read TLB entry only) still sets D', () => {
      const { rig, pt } = paged();
      pt.map(VA, TARGET, R | W);
      rig.exec([li(a1, VA), lw(a0, a1, 0), lw(a0, a1, 4), sw(a0, a1, 8)], S);
      assert.equal(pt.pte(VA) & AD, AD);
    });
    it('on a superpage too', () => {
      const { rig, pt } = paged();
      pt.mapSuper(VA, RAM_BASE, R | W);
      rig.exec([li(a1, VA + 0x2_0000), sw(a0, a1, 0)], S);
      assert.equal(pt.pte(VA, 1) & AD, AD);
    });
    it('a faulting access sets neither', () => {
      const { rig, pt } = paged();
      pt.map(VA, TARGET, R);
      probe(rig, S, 'store', VA);
      assert.equal(pt.pte(VA) & AD, 0);
    });
  });

  describe('TLB', () => {
    /** S code: load VA+OFF, point VA's PTE at another page, load again, run `flush`, load a third time. */
    function remap(flush: ReadonlyArray<number | readonly number[]>): Rig {
      const { rig, pt } = paged();
      pt.map(VA, TARGET, R | W | AD);
      const other = TARGET + 0x1000;
      rig.write32(other + OFF, 0xabcd);
      const newPte = ((other / 4096) << 10) | R | W | AD | Pte.V;
      rig.exec(
        [
          li(a1, VA + OFF),
          lw(a0, a1, 0),
          li(t0, pt.pteAddress(VA)),
          li(a2, newPte),
          sw(a2, t0, 0),
          lw(a3, a1, 0),
          ...flush,
          lw(a4, a1, 0),
        ],
        S,
      );
      return rig;
    }
    it('keeps using a cached translation after the PTE changes, until sfence.vma', () => {
      const rig = remap([A.sfence_vma()]);
      assert.equal(rig.x(a0), ecall());
      // The spec allows either value here; this TLB keeps the stale one, which proves it caches.
      assert.equal(rig.x(a3), ecall(), 'stale before the fence');
      assert.equal(rig.x(a4), 0xabcd, 'fresh after it');
    });
    it('sfence.vma for one address also drops it', () => {
      const rig = remap([A.sfence_vma(a1, zero)]);
      assert.equal(rig.x(a4), 0xabcd);
    });
    it('a satp write flushes it, even of the same value', () => {
      const rig = remap([csrr(t0, CSR.satp), csrw(CSR.satp, t0)]);
      assert.equal(rig.x(a3), ecall());
      assert.equal(rig.x(a4), 0xabcd);
    });
    it('switching satp to other tables switches mappings; bare mode maps VA = PA', () => {
      const { rig, pt } = paged();
      pt.map(VA, TARGET, R | AD);
      const pt2 = new PageTables(rig, ROOT + 0x1_0000, POOL + 0x1_0000);
      pt2.mapSuper(RAM_BASE, RAM_BASE, RWX | AD);
      pt2.map(VA, TARGET + 0x1000, R | AD);
      rig.write32(TARGET + 0x1000, 0x2222);
      rig.write32(TARGET, 0x1111);
      rig.exec(
        [
          li(a1, VA),
          lw(a0, a1, 0),
          li(t0, pt2.satp),
          csrw(CSR.satp, t0),
          lw(a2, a1, 0),
          csrw(CSR.satp, zero),
          li(a1, TARGET),
          lw(a3, a1, 0),
        ],
        S,
      );
      assert.deepEqual([rig.x(a0), rig.x(a2), rig.x(a3)], [0x1111, 0x2222, 0x1111]);
    });
    it('pages that share a TLB slot (256 pages apart) and the top page of the address space stay apart', () => {
      const { rig, pt } = paged();
      const far = VA + 256 * 4096;
      const top = 0xffff_f000;
      pt.map(VA, TARGET, R | W | AD)
        .map(far, TARGET + 0x1000, R | W | AD)
        .map(top, TARGET + 0x2000, R | W | AD);
      [0x111, 0x222, 0x333].forEach((v, i) => rig.write32(TARGET + 0x1000 * i + 8, v));
      const loads = [
        li(a1, VA),
        li(a2, far),
        li(a3, top),
        lw(a0, a1, 8),
        lw(a4, a2, 8),
        lw(t0, a3, 8),
        lw(a0, a1, 8),
        sw(t0, a2, 12),
        lw(a4, a2, 8),
      ];
      rig.exec(loads, S);
      assert.deepEqual([rig.x(a0), rig.x(a4), rig.x(t0)], [0x111, 0x222, 0x333]);
      assert.equal(rig.read32(TARGET + 0x1000 + 12), 0x333);
    });
    it('each privilege sees its own permissions through the same VA', () => {
      // The TLB must not hand a translation made for S to U.
      const { rig, pt } = paged();
      pt.map(VA, TARGET, R | AD);
      probe(rig, S, 'load', VA + OFF);
      assert.deepEqual(probe(rig, U, 'load', VA + OFF), expected(U, 'load', VA + OFF, Cause.LoadPageFault));
    });
    it('a SUM change takes effect without sfence.vma', () => {
      const { rig, pt } = paged();
      pt.map(VA, TARGET, R | Pte.U | AD);
      rig.hart.mstatus = Mstatus.SUM;
      rig.exec(
        [li(a1, VA + OFF), lw(a0, a1, 0), li(t0, Mstatus.SUM), A.csrrc(zero, CSR.sstatus, t0), lw(a3, a1, 0)],
        S,
      );
      assert.equal(rig.x(a0), ecall());
      assert.deepEqual(rig.mTrap(), { cause: Cause.LoadPageFault, epc: CODE + 24, tval: VA + OFF });
    });
  });

  describe('MPRV', () => {
    it('M loads and stores translate as MPP while fetches stay physical', () => {
      const { rig, pt } = paged();
      pt.map(VA, TARGET, R | W | AD);
      rig.hart.mstatus = Mstatus.MPRV | (S << 11);
      rig.hart.translationChanged(false);
      rig.exec([
        li(a1, VA + OFF),
        lw(a0, a1, 0),
        li(a2, 5),
        sw(a2, a1, 4),
        csrw(CSR.mstatus, zero),
        li(a1, TARGET + OFF),
        lw(a3, a1, 4),
      ]);
      assert.equal(rig.x(a0), ecall());
      assert.equal(rig.x(a3), 5);
    });
    it('with MPP = U, an S page faults (in M, with tval = VA)', () => {
      const { rig, pt } = paged();
      pt.map(VA, TARGET, R | W | AD);
      rig.hart.mstatus = Mstatus.MPRV | (U << 11);
      rig.hart.translationChanged(false);
      rig.exec([li(a1, VA + OFF), lw(a0, a1, 0)]);
      assert.deepEqual(rig.mTrap(), { cause: Cause.LoadPageFault, epc: CODE + 8, tval: VA + OFF });
    });
  });

  describe('translated code under several virtual addresses', () => {
    it('the same physical code run at two virtual addresses sees its own pc each time', () => {
      // As Linux does at boot: code runs at its physical address, then at its virtual one.
      const { rig, pt } = paged();
      const codePa = RAM_BASE + 0x6000;
      pt.map(VA, codePa, R | X | AD);
      rig.load([A.auipc(a0, 0), A.jal(a1, 8), A.nop(), ecall()], codePa);
      rig.start(codePa, S).runToHalt();
      assert.deepEqual([rig.u(a0), rig.u(a1)], [codePa, codePa + 8]);
      rig.start(VA, S).runToHalt();
      assert.deepEqual([rig.u(a0), rig.u(a1)], [VA, VA + 8]);
      assert.deepEqual(rig.mTrap(), { cause: Cause.EcallFromS, epc: VA + 12, tval: 0 });
    });
  });
});
