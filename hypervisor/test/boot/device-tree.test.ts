import assert from 'node:assert/strict';
import { buildVirtDeviceTree, type VirtDeviceTreeConfig } from '../../src/boot/device-tree.js';
import { decodeFdt, encodeFdt } from '../../src/boot/fdt.js';
import { dtc, hasTool, qemuVirtDtb } from './tools.js';

const QEMU_ISA = 'rv32imac_zicsr_zifencei_zihintpause';
const base: VirtDeviceTreeConfig = {
  ramBase: 0x8000_0000,
  ramSize: 64 << 20,
  isa: 'rv32ima_zicsr_zifencei',
  mmuType: 'riscv,sv32',
  timebaseHz: 10_000_000,
};

describe('virt device tree', () => {
  it('describes the hart, memory, interrupt wiring and the console', () => {
    const root = decodeFdt(buildVirtDeviceTree({ ...base, bootargs: 'console=ttyS0' })).root;
    assert.equal(root.getString('compatible'), 'riscv-virtio');
    assert.deepEqual(root.find('/memory@80000000')?.getCells('reg'), [0, 0x8000_0000, 0, 64 << 20]);
    assert.deepEqual(root.find('/cpus')?.getCells('timebase-frequency'), [10_000_000]);
    const cpu = root.find('/cpus/cpu@0')!;
    assert.equal(cpu.getString('riscv,isa'), 'rv32ima_zicsr_zifencei');
    assert.equal(cpu.getString('mmu-type'), 'riscv,sv32');
    assert.equal(cpu.getString('status'), 'okay');
    const intc = root.find('/cpus/cpu@0/interrupt-controller')!;
    assert.equal(intc.getString('compatible'), 'riscv,cpu-intc');
    const intcPh = intc.getCells('phandle')![0]!;
    assert.deepEqual(root.find('/soc/clint@2000000')?.getCells('interrupts-extended'), [intcPh, 3, intcPh, 7]);
    const plic = root.find('/soc/plic@c000000')!;
    assert.deepEqual(plic.getCells('interrupts-extended'), [intcPh, 11, intcPh, 9]);
    assert.deepEqual(plic.getCells('riscv,ndev'), [95]);
    const plicPh = plic.getCells('phandle')![0]!;
    const uart = root.find('/soc/serial@10000000')!;
    assert.deepEqual(uart.getCells('interrupts'), [10]);
    assert.deepEqual(uart.getCells('interrupt-parent'), [plicPh]);
    assert.deepEqual(uart.getCells('clock-frequency'), [0x384000]);
    const testPh = root.find('/soc/test@100000')!.getCells('phandle')![0]!;
    assert.deepEqual(root.find('/poweroff')?.getCells('regmap'), [testPh]);
    assert.deepEqual(root.find('/poweroff')?.getCells('value'), [0x5555]);
    assert.deepEqual(root.find('/reboot')?.getCells('value'), [0x7777]);
    assert.equal(root.find('/chosen')?.getString('stdout-path'), '/soc/serial@10000000');
    assert.equal(root.find('/chosen')?.getString('bootargs'), 'console=ttyS0');
    assert.equal(root.find('/chosen')?.get('linux,initrd-start'), undefined);
  });

  it('lists virtio-mmio slots from the highest down, each with its irq', () => {
    const names = (n?: number) =>
      decodeFdt(buildVirtDeviceTree({ ...base, virtioSlots: n }))
        .root.find('/soc')!
        .children.filter((c) => c.name.startsWith('virtio_mmio'));
    const all = names();
    assert.deepEqual(
      all.map((c) => [c.name, c.getCells('interrupts')![0]]),
      [8, 7, 6, 5, 4, 3, 2, 1].map((i) => [`virtio_mmio@${(0x1000_0000 + 0x1000 * i).toString(16)}`, i]),
    );
    assert.deepEqual(
      names(2).map((c) => c.name),
      ['virtio_mmio@10002000', 'virtio_mmio@10001000'],
    );
    assert.deepEqual(names(0), []);
    assert.throws(() => buildVirtDeviceTree({ ...base, virtioSlots: 9 }), /virtioSlots 9 is not in 0..8/);
  });

  it('passes the initrd, bootargs and an rng seed in /chosen', () => {
    const seed = Uint8Array.from({ length: 32 }, (_, i) => i);
    const chosen = decodeFdt(
      buildVirtDeviceTree({
        ...base,
        bootargs: 'root=/dev/vda',
        initrd: { start: 0x8200_0000, end: 0x8210_0000 },
        rngSeed: seed,
      }),
    ).root.find('/chosen')!;
    assert.deepEqual(chosen.getCells('linux,initrd-start'), [0x8200_0000]);
    assert.deepEqual(chosen.getCells('linux,initrd-end'), [0x8210_0000]);
    assert.deepEqual(chosen.get('rng-seed'), seed);
  });

  it('decompiles with dtc, with no more warnings than QEMU’s own tree', function () {
    if (!hasTool('dtc')) this.skip();
    const { dts, warnings, status } = dtc(buildVirtDeviceTree({ ...base, bootargs: 'console=ttyS0' }));
    assert.equal(status, 0);
    // dtc wants #address-cells in the hart's interrupt controller; QEMU's tree lacks it too.
    assert.deepEqual(
      warnings.filter((w) => !/interrupt_provider.*cpu@0\/interrupt-controller/.test(w)),
      [],
    );
    for (const line of [
      'compatible = "sifive,plic-1.0.0\\0riscv,plic0";',
      'compatible = "sifive,clint0\\0riscv,clint0";',
      'compatible = "sifive,test1\\0sifive,test0\\0syscon";',
      'compatible = "syscon-poweroff";',
      'riscv,isa = "rv32ima_zicsr_zifencei";',
      'stdout-path = "/soc/serial@10000000";',
      'bootargs = "console=ttyS0";',
      'compatible = "virtio,mmio";',
      'ranges;',
    ]) {
      assert.ok(dts.includes(line), `missing: ${line}`);
    }
  });

  it('matches QEMU 7.2 virt’s tree node for node, less the devices this board lacks', function () {
    if (!hasTool('qemu-system-riscv32') || !hasTool('dtc')) this.skip();
    this.timeout(30_000);
    const append = 'console=ttyS0 root=/dev/vda';
    const initrdBytes = 5000;
    const qemu = decodeFdt(qemuVirtDtb({ memMiB: 64, append, initrdBytes })).root;
    // Not on this board: PMU, fw_cfg, flash, platform bus, RTC, PCI; the seed is random.
    for (const path of ['/', '/soc']) {
      const n = qemu.find(path)!;
      n.children.splice(
        0,
        n.children.length,
        ...n.children.filter((c) => !/^(pmu|fw-cfg|flash|platform-bus|rtc|pci)\b/.test(c.name)),
      );
    }
    qemu.find('/chosen')!.remove('rng-seed');
    // QEMU 7.2 counts reserved source 0 in riscv,ndev (96); the binding means sources 1..95.
    qemu.find('/soc/plic@c000000')!.cells('riscv,ndev', 95);

    const ours = buildVirtDeviceTree({
      ...base,
      isa: QEMU_ISA,
      bootargs: append,
      initrd: { start: 0x8200_0000, end: 0x8200_0000 + initrdBytes },
    });
    assert.equal(dtc(ours).dts, dtc(encodeFdt(qemu)).dts);
  });
});
