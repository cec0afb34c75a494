// The device tree the VMM hands the guest: QEMU 7.2 `virt`'s tree for an rv32imac hart, limited
// to the devices this board has (no PCI, flash, fw_cfg, RTC or PMU node). Nodes and properties
// come in QEMU's order and with QEMU's phandles, so a tree dumped from both (`-M
// virt,dumpdtb=`) reads the same, and Linux probes devices in the same order: virtio-mmio
// slots are listed from the highest address down, as QEMU lists them, so the first disk is
// /dev/vda on both.
import { PLIC_NUM_SOURCES } from '../devices/plic/plic.js';
import { MemoryMap, Irq } from '../memory-map.js';
import { encodeFdt, FdtNode, Phandles } from './fdt.js';

export { validateDtb, DtbError } from './fdt.js';

export interface VirtDeviceTreeConfig {
  ramBase: number;
  ramSize: number;
  /** The kernel command line (/chosen/bootargs). */
  bootargs?: string;
  /** Where the initrd was loaded: [start, end). */
  initrd?: { start: number; end: number };
  /** riscv,isa of cpu@0, e.g. "rv32ima_zicsr_zifencei" (QEMU 7.2 adds "_zihintpause"). */
  isa: string;
  mmuType: string;
  timebaseHz: number;
  /** virtio-mmio transports to describe, slots 0..n-1 (default 8, all of them). */
  virtioSlots?: number;
  /** /chosen/stdout-path (default the UART). */
  stdoutPath?: string;
  /** /chosen/rng-seed: early entropy for the kernel (QEMU passes 32 random bytes). Omitted if absent. */
  rngSeed?: Uint8Array;
}

/** QEMU virt's UART input clock (3.6864 MHz). */
const UART_CLOCK_HZ = 0x38_4000;
/** Interrupt numbers of the hart's local interrupt controller (mcause codes). */
const CPU_IRQ = { MSI: 3, MTI: 7, SEI: 9, MEI: 11 } as const;
/**
 * The binding counts sources 1..ndev: the PLIC's 96 minus reserved source 0. (QEMU 7.2 writes
 * 96, counting source 0, so Linux touches a source-96 register that does not exist.)
 */
const PLIC_NDEV = PLIC_NUM_SOURCES - 1;

const hexAddr = (a: number) => a.toString(16);

export function buildVirtDeviceTree(cfg: VirtDeviceTreeConfig): Uint8Array {
  const virtioSlots = cfg.virtioSlots ?? MemoryMap.virtio.count;
  if (!Number.isInteger(virtioSlots) || virtioSlots < 0 || virtioSlots > MemoryMap.virtio.count) {
    throw new RangeError(`virtioSlots ${virtioSlots} is not in 0..${MemoryMap.virtio.count}`);
  }

  const root = new FdtNode('');
  root.cells('#address-cells', 2).cells('#size-cells', 2).strings('compatible', 'riscv-virtio');
  root.strings('model', 'riscv-virtio,qemu');

  const chosenNode = root.add('chosen');
  const poweroff = root.add('poweroff');
  const reboot = root.add('reboot');
  const memory = root.add(`memory@${hexAddr(cfg.ramBase)}`);
  const cpus = root.add('cpus');
  const soc = root.add('soc');

  const cpu0 = new FdtNode('cpu@0');
  const intc = new FdtNode('interrupt-controller');
  const plic = new FdtNode(`plic@${hexAddr(MemoryMap.plic.base)}`);
  const test = new FdtNode(`test@${hexAddr(MemoryMap.syscon.base)}`);
  // QEMU's phandle numbering: cpu 1, its interrupt controller 2, PLIC 3, test device 4.
  const phandles = new Phandles();
  const cpuPh = phandles.assign(cpu0);
  const intcPh = phandles.alloc(); // set last, where QEMU has it
  const plicPh = phandles.assign(plic);
  const testPh = phandles.assign(test);

  // /chosen
  if (cfg.initrd) {
    chosenNode.cells('linux,initrd-end', cfg.initrd.end);
    chosenNode.cells('linux,initrd-start', cfg.initrd.start);
  }
  if (cfg.rngSeed) chosenNode.set('rng-seed', cfg.rngSeed.slice());
  if (cfg.bootargs !== undefined) chosenNode.strings('bootargs', cfg.bootargs);
  chosenNode.strings('stdout-path', cfg.stdoutPath ?? `/soc/serial@${hexAddr(MemoryMap.uart0.base)}`);

  // The finisher's poweroff and reboot functions, as syscon-poweroff/-reboot at the root
  // (Linux only instantiates platform devices under simple-bus nodes or the root).
  poweroff.cells('value', 0x5555).cells('offset', 0).cells('regmap', testPh).strings('compatible', 'syscon-poweroff');
  reboot.cells('value', 0x7777).cells('offset', 0).cells('regmap', testPh).strings('compatible', 'syscon-reboot');

  memory.strings('device_type', 'memory').u64('reg', cfg.ramBase, cfg.ramSize);

  // /cpus
  cpus.cells('#address-cells', 1).cells('#size-cells', 0).cells('timebase-frequency', cfg.timebaseHz);
  cpus.children.push(cpu0);
  cpu0.strings('device_type', 'cpu').cells('reg', 0).strings('status', 'okay').strings('compatible', 'riscv');
  cpu0.strings('riscv,isa', cfg.isa).strings('mmu-type', cfg.mmuType);
  cpu0.children.push(intc);
  intc.cells('#interrupt-cells', 1).flag('interrupt-controller').strings('compatible', 'riscv,cpu-intc');
  intc.cells('phandle', intcPh);
  cpus.add('cpu-map').add('cluster0').add('core0').cells('cpu', cpuPh);

  // /soc
  soc.cells('#address-cells', 2).cells('#size-cells', 2).strings('compatible', 'simple-bus').flag('ranges');
  soc
    .add(`serial@${hexAddr(MemoryMap.uart0.base)}`)
    .cells('interrupts', Irq.uart0)
    .cells('interrupt-parent', plicPh)
    .cells('clock-frequency', UART_CLOCK_HZ)
    .u64('reg', MemoryMap.uart0.base, MemoryMap.uart0.size)
    .strings('compatible', 'ns16550a');
  soc.children.push(test);
  test.u64('reg', MemoryMap.syscon.base, MemoryMap.syscon.size);
  test.strings('compatible', 'sifive,test1', 'sifive,test0', 'syscon');
  for (let slot = virtioSlots - 1; slot >= 0; slot--) {
    const base = MemoryMap.virtio.base + slot * MemoryMap.virtio.size;
    soc
      .add(`virtio_mmio@${hexAddr(base)}`)
      .cells('interrupts', Irq.virtioBase + slot)
      .cells('interrupt-parent', plicPh)
      .u64('reg', base, MemoryMap.virtio.size)
      .strings('compatible', 'virtio,mmio');
  }
  soc.children.push(plic);
  plic.cells('riscv,ndev', PLIC_NDEV).u64('reg', MemoryMap.plic.base, MemoryMap.plic.size);
  plic.cells('interrupts-extended', intcPh, CPU_IRQ.MEI, intcPh, CPU_IRQ.SEI).flag('interrupt-controller');
  plic
    .strings('compatible', 'sifive,plic-1.0.0', 'riscv,plic0')
    .cells('#address-cells', 0)
    .cells('#interrupt-cells', 1);
  soc
    .add(`clint@${hexAddr(MemoryMap.clint.base)}`)
    .cells('interrupts-extended', intcPh, CPU_IRQ.MSI, intcPh, CPU_IRQ.MTI)
    .u64('reg', MemoryMap.clint.base, MemoryMap.clint.size)
    .strings('compatible', 'sifive,clint0', 'riscv,clint0');

  return encodeFdt(root);
}
