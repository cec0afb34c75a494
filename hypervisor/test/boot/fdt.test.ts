import assert from 'node:assert/strict';
import { decodeFdt, DtbError, encodeFdt, FdtNode, Phandles, validateDtb } from '../../src/boot/fdt.js';
import { dtc, hasTool } from './tools.js';

function sampleTree(): FdtNode {
  const root = new FdtNode('');
  root.cells('#address-cells', 2).cells('#size-cells', 2).strings('compatible', 'test,board');
  const ph = new Phandles();
  const ctl = root.add('ctl@1000');
  const ctlPh = ph.assign(ctl);
  ctl.u64('reg', 0x1000, 0x1_0000_0000).flag('interrupt-controller').strings('compatible', 'a,b', 'c');
  ctl.cells('#interrupt-cells', 1).cells('#address-cells', 0);
  root
    .add('dev@2000')
    .u64('reg', 0x2000, 0x100)
    .cells('interrupt-parent', ctlPh)
    .cells('interrupts', 5)
    .strings('status', 'okay');
  root.add('chosen').strings('bootargs', 'console=ttyS0 quiet');
  return root;
}

describe('FDT writer and reader', () => {
  it('round-trips a tree with phandles, 64-bit cells, string lists and reservations', () => {
    const dtb = encodeFdt(sampleTree(), {
      reservations: [{ address: 0x8000_0000, size: 0x20_0000 }],
      bootCpuidPhys: 0,
    });
    const fdt = decodeFdt(dtb);
    assert.deepEqual(fdt.reservations, [{ address: 0x8000_0000, size: 0x20_0000 }]);
    assert.deepEqual(fdt.root.find('/ctl@1000')?.getCells('reg'), [0, 0x1000, 1, 0]);
    assert.equal(fdt.root.find('/ctl@1000')?.getCells('phandle')?.[0], 1);
    assert.equal(fdt.root.find('/dev@2000')?.getString('status'), 'okay');
    assert.equal(fdt.root.find('/chosen')?.getString('bootargs'), 'console=ttyS0 quiet');
    assert.deepEqual(encodeFdt(fdt.root, { reservations: fdt.reservations }), dtb, 'byte-identical re-encoding');
  });

  it('lays the blob out as libfdt does: header, reservation map, structure, strings', () => {
    const dtb = encodeFdt(sampleTree(), { padding: 256 });
    const v = new DataView(dtb.buffer);
    assert.equal(v.getUint32(0), 0xd00dfeed);
    assert.equal(v.getUint32(4), dtb.length);
    assert.equal(v.getUint32(16), 0x28, 'memory reservation map right after the header');
    assert.equal(v.getUint32(8), 0x38, 'structure block after the (empty) map');
    assert.equal(v.getUint32(20), 17);
    assert.equal(v.getUint32(24), 16);
    assert.equal(v.getUint32(12) + v.getUint32(32) + 256, dtb.length, 'strings last, then the padding');
  });

  it('is decompiled by dtc without warnings', function () {
    if (!hasTool('dtc')) this.skip();
    const { dts, warnings, status } = dtc(
      encodeFdt(sampleTree(), { reservations: [{ address: 0x8000_0000, size: 0x1000 }] }),
    );
    assert.equal(status, 0);
    assert.deepEqual(warnings, []);
    assert.match(dts, /\/memreserve\/\s+0x0000000080000000 0x0000000000001000;/);
    assert.match(dts, /reg = <0x00 0x1000 0x01 0x00>;/);
    assert.match(dts, /compatible = "a,b\\0c";/);
    assert.match(dts, /interrupt-parent = <0x01>;/);
    assert.match(dts, /interrupt-controller;/);
  });

  describe('validateDtb', () => {
    const good = encodeFdt(sampleTree());
    const patched = (offset: number, value: number) => {
      const b = good.slice();
      new DataView(b.buffer).setUint32(offset, value);
      return b;
    };

    it('accepts a well-formed blob', () => {
      validateDtb(good);
    });

    it('names what is wrong with a bad one', () => {
      assert.throws(() => validateDtb(new Uint8Array(10)), /too short/);
      assert.throws(
        () => validateDtb(new TextEncoder().encode('/dts-v1/; / { model = "some source, not a blob"; };')),
        /magic 0x2f647473, expected 0xd00dfeed/,
      );
      assert.throws(
        () => validateDtb(good.subarray(0, good.length - 8)),
        /truncated device tree blob: header says \d+ bytes, file has \d+/,
      );
      assert.throws(() => validateDtb(patched(20, 3)), /unsupported device tree version 3/);
      assert.throws(() => validateDtb(patched(8, good.length - 4)), /structure block .* is outside the blob/);
      assert.throws(() => validateDtb(patched(12, good.length + 100)), /strings block/);
      assert.throws(() => validateDtb(patched(0x38, 7)), /bad structure token 0x7/);
      assert.throws(() => validateDtb(patched(0x38, 7)), DtbError);
    });
  });
});
