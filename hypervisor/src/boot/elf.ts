// ELF32 little-endian RISC-V executables (bare-metal tests, firmware, kernels linked at their
// physical address): validation with messages that say what the file is instead, PT_LOAD
// segments, the entry point and the symbol table (HTIF's tohost/fromhost).
import type { GuestRam } from '../bus/ram.js';

export class BootImageError extends Error {
  override readonly name = 'BootImageError';
}

export const EM_RISCV = 243;
const ET_EXEC = 2;
const PT_LOAD = 1;
const SHT_SYMTAB = 2;
const EHDR_SIZE = 52;
const PHDR_SIZE = 32;
const SHDR_SIZE = 40;
const SYM_SIZE = 16;
const EF_RISCV_RVC = 0x1;
const EF_RISCV_FLOAT_ABI = 0x6;

const MACHINES: Record<number, string> = {
  3: 'x86',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  40: 'ARM',
  62: 'x86-64',
  183: 'AArch64',
  243: 'RISC-V',
  258: 'LoongArch',
};
const TYPES: Record<number, string> = {
  0: 'no file type',
  1: 'a relocatable object',
  3: 'a shared object or PIE',
  4: 'a core dump',
};

export interface ElfSegment {
  /** Physical load address (p_paddr, as QEMU loads them). */
  paddr: number;
  vaddr: number;
  /** File offset and bytes to copy; the rest of memsz is zero-filled. */
  offset: number;
  filesz: number;
  memsz: number;
  flags: number;
}

export interface ElfImage {
  entry: number;
  segments: ElfSegment[];
  /** Named symbols and their values (empty for a stripped file). */
  symbols: Map<string, number>;
  /** The code may hold compressed (C) instructions (EF_RISCV_RVC). */
  rvc: boolean;
  /** 0 soft, 1 single, 2 double, 3 quad: the hard-float ABI implies F/D instructions. */
  floatAbi: number;
}

const hex = (v: number) => `0x${(v >>> 0).toString(16)}`;

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Parses and validates an ELF32 LE RISC-V executable. Throws a BootImageError naming the problem. */
export function parseElf(bytes: Uint8Array): ElfImage {
  if (!isElf(bytes)) throw new BootImageError('not an ELF file (no \\x7fELF magic)');
  if (bytes.length < 20) throw new BootImageError(`truncated ELF: ${bytes.length} bytes`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cls = bytes[4];
  const data = bytes[5];
  const le = data === 1;
  // e_machine sits at the same offset in 32- and 64-bit headers: name the file's machine first.
  const machine = v.getUint16(18, le);
  const machineName = MACHINES[machine] ?? `machine ${machine}`;
  if (cls === 2 && machine === EM_RISCV) {
    throw new BootImageError('64-bit RISC-V ELF (RV64): this machine runs 32-bit RISC-V (RV32) code');
  }
  if (machine !== EM_RISCV)
    throw new BootImageError(`ELF for ${machineName}, not RISC-V (e_machine ${machine}, expected ${EM_RISCV})`);
  if (cls !== 1) throw new BootImageError(`ELF class ${cls} is not 32-bit (ELFCLASS32)`);
  if (data !== 1) throw new BootImageError('big-endian ELF: RISC-V code is little-endian');
  if (bytes.length < EHDR_SIZE)
    throw new BootImageError(`truncated ELF: ${bytes.length} bytes, header needs ${EHDR_SIZE}`);

  const type = v.getUint16(16, true);
  if (type !== ET_EXEC) {
    throw new BootImageError(
      `ELF is ${TYPES[type] ?? `type ${type}`}, not an executable (ET_EXEC) linked at fixed addresses`,
    );
  }
  const entry = v.getUint32(24, true);
  const phoff = v.getUint32(28, true);
  const shoff = v.getUint32(32, true);
  const flags = v.getUint32(36, true);
  const phentsize = v.getUint16(42, true);
  const phnum = v.getUint16(44, true);
  const shentsize = v.getUint16(46, true);
  const shnum = v.getUint16(48, true);

  const within = (off: number, size: number) => off + size <= bytes.length;
  if (phnum === 0) throw new BootImageError('ELF has no program headers: nothing to load');
  if (phentsize < PHDR_SIZE) throw new BootImageError(`ELF program header size ${phentsize} is below ${PHDR_SIZE}`);
  if (!within(phoff, phnum * phentsize)) {
    throw new BootImageError(
      `truncated ELF: ${phnum} program headers at ${hex(phoff)} run past the end of the file (${bytes.length} bytes)`,
    );
  }

  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (v.getUint32(o, true) !== PT_LOAD) continue;
    const seg: ElfSegment = {
      offset: v.getUint32(o + 4, true),
      vaddr: v.getUint32(o + 8, true),
      paddr: v.getUint32(o + 12, true),
      filesz: v.getUint32(o + 16, true),
      memsz: v.getUint32(o + 20, true),
      flags: v.getUint32(o + 24, true),
    };
    if (seg.filesz > seg.memsz) throw new BootImageError(`segment ${i} has filesz ${seg.filesz} > memsz ${seg.memsz}`);
    if (!within(seg.offset, seg.filesz)) {
      throw new BootImageError(
        `truncated ELF: segment ${i} (${seg.filesz} bytes at file offset ${hex(seg.offset)}) runs past the end of the file (${bytes.length} bytes)`,
      );
    }
    if (seg.paddr + seg.memsz > 0x1_0000_0000)
      throw new BootImageError(`segment ${i} at ${hex(seg.paddr)} wraps past 4 GiB`);
    segments.push(seg);
  }
  if (segments.length === 0) throw new BootImageError('ELF has no PT_LOAD segment: nothing to load');

  const symbols =
    shnum === 0 || shoff === 0 ? new Map<string, number>() : readSymbols(bytes, v, shoff, shnum, shentsize);
  return { entry, segments, symbols, rvc: (flags & EF_RISCV_RVC) !== 0, floatAbi: (flags & EF_RISCV_FLOAT_ABI) >>> 1 };
}

function readSymbols(
  bytes: Uint8Array,
  v: DataView,
  shoff: number,
  shnum: number,
  shentsize: number,
): Map<string, number> {
  if (shentsize < SHDR_SIZE) throw new BootImageError(`ELF section header size ${shentsize} is below ${SHDR_SIZE}`);
  if (shoff + shnum * shentsize > bytes.length) {
    throw new BootImageError(
      `truncated ELF: section headers at ${hex(shoff)} run past the end of the file (${bytes.length} bytes)`,
    );
  }
  const section = (i: number) => {
    const o = shoff + i * shentsize;
    return {
      type: v.getUint32(o + 4, true),
      offset: v.getUint32(o + 16, true),
      size: v.getUint32(o + 20, true),
      link: v.getUint32(o + 24, true),
    };
  };
  const symbols = new Map<string, number>();
  const dec = new TextDecoder();
  for (let i = 0; i < shnum; i++) {
    const symtab = section(i);
    if (symtab.type !== SHT_SYMTAB) continue;
    if (symtab.link >= shnum) throw new BootImageError(`ELF symbol table links to missing section ${symtab.link}`);
    const strtab = section(symtab.link);
    if (symtab.offset + symtab.size > bytes.length || strtab.offset + strtab.size > bytes.length) {
      throw new BootImageError('truncated ELF: the symbol table runs past the end of the file');
    }
    for (let o = symtab.offset; o + SYM_SIZE <= symtab.offset + symtab.size; o += SYM_SIZE) {
      const nameOff = v.getUint32(o, true);
      if (nameOff === 0 || nameOff >= strtab.size) continue;
      const start = strtab.offset + nameOff;
      let end = start;
      while (end < strtab.offset + strtab.size && bytes[end] !== 0) end++;
      const name = dec.decode(bytes.subarray(start, end));
      // Keep the first definition: local symbols of the same name come later in practice.
      if (!symbols.has(name)) symbols.set(name, v.getUint32(o + 4, true));
    }
  }
  return symbols;
}

/** Describes RAM for error messages: "0x80000000..0x84000000". */
export const ramRange = (ram: GuestRam) => `${hex(ram.base)}..${hex(ram.base + ram.size)}`;

/** Loads an ELF executable's segments into RAM (copy, then zero-fill to memsz). */
export function loadElf(
  ram: GuestRam,
  bytes: Uint8Array,
): { entry: number; symbols: Map<string, number>; end: number } {
  const elf = parseElf(bytes);
  for (const s of elf.segments) {
    if (s.memsz > 0 && ram.offsetOf(s.paddr, s.memsz) < 0) {
      throw new BootImageError(`segment at ${hex(s.paddr)} size ${s.memsz} does not fit in RAM ${ramRange(ram)}`);
    }
  }
  let end = 0;
  for (const s of elf.segments) {
    if (s.memsz === 0) continue;
    const off = ram.offsetOf(s.paddr, s.memsz);
    ram.bytes.set(bytes.subarray(s.offset, s.offset + s.filesz), off);
    ram.bytes.fill(0, off + s.filesz, off + s.memsz);
    ram.noteWriteRange(off, s.memsz);
    end = Math.max(end, s.paddr + s.memsz);
  }
  return { entry: elf.entry, symbols: elf.symbols, end };
}
