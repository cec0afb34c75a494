// RAM in snapshots: pages never written are known to be zero (PageFlag.Zero) and are neither read
// by a save nor touched by a restore, while every page the CPU, a device or the boot loader wrote
// is saved, and a restore zeroes written pages the snapshot does not have.
import { strict as assert } from 'node:assert';
import { PAGE_SIZE } from '../../src/bus/ram.js';
import { Machine } from '../../src/index.js';
import { isZeroPage } from '../../src/state/snapshot.js';

const RAM_BASE = 0x8000_0000;
const STORE_PAGE = 0x100; // the program's store target, 1 MiB into RAM

/** lui t0, 0x80100; sw t0, 0(t0); j . (raw, run from reset in M-mode) */
function program(): Uint8Array {
  const words = [0x801002b7, 0x0052a023, 0x0000006f];
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w, true));
  return out;
}

const newMachine = (): Machine =>
  new Machine({ kernel: program(), bios: 'none' }, { config: { memoryMiB: 16 }, console: () => {} });
const page = (m: Machine, p: number): Uint8Array => m.ram.bytes.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
const word = (m: Machine, addr: number): number => m.ram.view.getUint32(addr - RAM_BASE, true);

describe('snapshot RAM and pages known to be zero', () => {
  it('knows fresh pages are zero and forgets it for pages the boot loader, a device or the CPU wrote', () => {
    const m = newMachine();
    const dtbPage = m.ram.pages - 16; // 64 KiB below the top of RAM
    assert.equal(m.ram.isKnownZero(0), false, 'kernel page');
    assert.equal(m.ram.isKnownZero(dtbPage), false, 'device tree page');
    assert.equal(m.ram.isKnownZero(m.ram.pages - 1), true);
    assert.equal(m.ram.isKnownZero(STORE_PAGE), true);
    assert.equal(m.ram.isKnownZero(0x200), true);

    m.ram.dmaWrite(RAM_BASE + 0x200 * PAGE_SIZE + 8, Uint8Array.of(1));
    assert.equal(m.ram.isKnownZero(0x200), false, 'after DMA');

    m.hart.run(m.hart.instret + 10);
    assert.equal(word(m, RAM_BASE + STORE_PAGE * PAGE_SIZE), 0x8010_0000);
    assert.equal(m.ram.isKnownZero(STORE_PAGE), false, 'after a CPU store');
    assert.equal(isZeroPage(m.ram, STORE_PAGE), false);
  });

  it('saves every written page and restores them, zeroing written pages the snapshot lacks', () => {
    const src = newMachine();
    src.hart.run(src.hart.instret + 10);
    const snap = src.saveState();

    const dst = newMachine();
    // Pages the snapshot does not have: written here, they must come back zero.
    dst.ram.dmaWrite(RAM_BASE + 0x300 * PAGE_SIZE, new Uint8Array(PAGE_SIZE).fill(0xaa));
    dst.ram.dmaWrite(RAM_BASE + 0x301 * PAGE_SIZE + 100, Uint8Array.of(7));
    dst.restoreState(snap);

    for (let p = 0; p < src.ram.pages; p++) assert.deepEqual(page(dst, p), page(src, p), `page ${p}`);
    assert.equal(word(dst, RAM_BASE + STORE_PAGE * PAGE_SIZE), 0x8010_0000);
    assert.equal(dst.ram.isKnownZero(0x300), true, 'a zeroed page is known zero again');
    assert.equal(dst.ram.isKnownZero(STORE_PAGE), false);
    assert.equal(dst.ram.isKnownZero(0x400), true, 'untouched pages stay untouched');

    // A CPU store into a page zeroed by the restore is not lost by the next save.
    dst.hart.pc = RAM_BASE;
    dst.hart.x[5] = 0;
    dst.ram.view.setUint32(0, 0x803002b7, true); // lui t0, 0x80300 (page 0x300)
    dst.hart.dropTranslations();
    dst.hart.run(dst.hart.instret + 10);
    assert.equal(dst.ram.isKnownZero(0x300), false);
    const again = newMachine();
    again.restoreState(dst.saveState());
    assert.equal(word(again, RAM_BASE + 0x300 * PAGE_SIZE), 0x8030_0000);
  });

  it('leaves RAM as it was when the snapshot is bad', () => {
    const src = newMachine();
    const snap = Buffer.from(src.saveState());
    const dst = newMachine();
    dst.ram.dmaWrite(RAM_BASE + 0x300 * PAGE_SIZE, Uint8Array.of(9));
    snap[snap.length - 6] ^= 1; // inside the end marker: the checksum fails
    assert.throws(() => dst.restoreState(snap));
    assert.equal(dst.ram.bytes[0x300 * PAGE_SIZE], 9);
    assert.equal(dst.ram.isKnownZero(0x300), false);
  });
});
