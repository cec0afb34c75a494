// Puts the boot images in guest RAM the way QEMU `virt` does, and says how the hart starts:
// - bios builtin: the kernel at the start of RAM, entered in S-mode (the VMM serves SBI);
// - bios none: the kernel (usually a bare-metal ELF) run from reset in M-mode;
// - bios FILE: the firmware at the start of RAM in M-mode, the kernel at RAM + 4 MiB, and a
//   fw_dynamic_info block telling the firmware where the kernel is.
// The device tree goes at the top of RAM, the initrd below it. Every write is reported to the
// RAM (noteWriteRange), as a device's DMA would be: pages known to be zero must not stay so.
import { randomBytes } from 'node:crypto';
import type { GuestRam } from '../bus/ram.js';
import { Priv } from '../cpu/exceptions.js';
import { KERNEL_OFFSET_WITH_FIRMWARE } from '../memory-map.js';
import { isElf, loadElf } from '../boot/elf.js';
import { loadRaw, parseLinuxImageHeader } from '../boot/image.js';
import { buildVirtDeviceTree, validateDtb } from '../boot/device-tree.js';
import { MachineConfigError, type BootImages, type MachineConfig } from './config.js';

export interface BootPlan {
  entry: number;
  priv: Priv;
  /** a0, a1, a2 at entry: hart id, device tree address, fw_dynamic_info address. */
  args: [number, number, number];
  /** tohost/fromhost when the kernel ELF has them (HTIF). */
  htif?: { tohost: number; fromhost: number };
}

/** QEMU's virt passes 32 bytes: 256 bits, what Linux needs to credit its CRNG as initialised. */
const RNG_SEED_BYTES = 32;
const FW_DYNAMIC_MAGIC = 0x4942_534f;
const FW_DYNAMIC_VERSION = 2;
const MODE_S = 1;
/** The ISA string in the device tree: only what the hart implements (no F, D, Sstc). */
export const ISA_STRING = 'rv32imac_zicsr_zifencei_zihintpause';

/** Loads a kernel or firmware image at `addr` (ELFs go where their headers say). */
function place(
  ram: GuestRam,
  bytes: Uint8Array,
  addr: number,
  what: string,
): { entry: number; symbols: Map<string, number>; end: number } {
  try {
    if (isElf(bytes)) return loadElf(ram, bytes);
    const { end } = loadRaw(ram, bytes, addr, what);
    // A Linux Image says how much memory it really takes (text, data and BSS).
    const size = parseLinuxImageHeader(bytes)?.imageSize ?? 0;
    return { entry: addr, symbols: new Map(), end: Math.max(end, addr + size) };
  } catch (e) {
    throw new MachineConfigError(`${what}: ${(e as Error).message}`);
  }
}

export function loadBoot(ram: GuestRam, images: BootImages, config: MachineConfig): BootPlan {
  const ramEnd = ram.base + ram.size;
  // Top of RAM: 64 KiB for the device tree and the fw_dynamic_info block.
  const dtbAddr = ramEnd - 0x1_0000;
  const fwInfoAddr = dtbAddr - 0x40;

  let plan: BootPlan;
  let kernelEnd: number;
  if (images.bios === 'builtin' || images.bios === 'none') {
    const k = place(ram, images.kernel, ram.base, 'kernel');
    kernelEnd = k.end;
    const tohost = k.symbols.get('tohost');
    const fromhost = k.symbols.get('fromhost');
    plan = {
      entry: k.entry,
      priv: images.bios === 'builtin' ? Priv.Supervisor : Priv.Machine,
      args: [0, dtbAddr, images.bios === 'none' ? fwInfoAddr : 0],
      htif: tohost !== undefined && fromhost !== undefined ? { tohost, fromhost } : undefined,
    };
  } else {
    const fw = place(ram, images.bios, ram.base, 'firmware');
    const kernelAddr = ram.base + KERNEL_OFFSET_WITH_FIRMWARE;
    const k = place(ram, images.kernel, kernelAddr, 'kernel');
    kernelEnd = k.end;
    writeFwDynamicInfo(ram, fwInfoAddr, k.entry);
    plan = { entry: fw.entry, priv: Priv.Machine, args: [0, dtbAddr, fwInfoAddr] };
  }

  let initrd: { start: number; end: number } | undefined;
  if (images.initrd) {
    const start = (fwInfoAddr - images.initrd.length) & ~0xfff;
    if (start < kernelEnd) {
      throw new MachineConfigError(
        `initrd (${images.initrd.length} bytes) does not fit in RAM above the kernel; add memory`,
      );
    }
    ram.bytes.set(images.initrd, start - ram.base);
    ram.noteWriteRange(start - ram.base, images.initrd.length);
    initrd = { start, end: start + images.initrd.length };
  }

  let dtb: Uint8Array;
  if (images.dtb) {
    try {
      validateDtb(images.dtb);
    } catch (e) {
      throw new MachineConfigError(`dtb: ${(e as Error).message}`);
    }
    dtb = images.dtb;
  } else {
    dtb = buildVirtDeviceTree({
      ramBase: ram.base,
      ramSize: ram.size,
      bootargs: images.append,
      initrd,
      isa: ISA_STRING,
      mmuType: 'riscv,sv32',
      timebaseHz: 10_000_000,
      virtioSlots: config.virtioSlots,
      // As QEMU's virt does: with 32 bytes it may trust, Linux's CRNG is ready at once, so the
      // guest's early random reads skip hashing the input pool each time (15 % of a boot's
      // instructions without it). A deterministic run stays deterministic: no seed.
      rngSeed: config.clock === 'host' ? randomBytes(RNG_SEED_BYTES) : undefined,
    });
  }
  if (dtb.length > ramEnd - dtbAddr)
    throw new MachineConfigError(`device tree of ${dtb.length} bytes is larger than 64 KiB`);
  ram.bytes.set(dtb, dtbAddr - ram.base);
  ram.noteWriteRange(dtbAddr - ram.base, dtb.length);
  return plan;
}

/** The block OpenSBI's fw_dynamic reads (and QEMU writes) to find the next stage. */
function writeFwDynamicInfo(ram: GuestRam, addr: number, next: number): void {
  const v = ram.view;
  const off = addr - ram.base;
  [FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, next, MODE_S, 0, 0].forEach((w, i) => v.setUint32(off + 4 * i, w >>> 0, true));
  ram.noteWriteRange(off, 24);
}
