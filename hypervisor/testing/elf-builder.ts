// Builds small ELF32 files for the loader tests: header, program headers, segment data and a
// symbol table with its string table (section headers: null, .symtab, .strtab).

export interface TestSegment {
  paddr: number;
  data: Uint8Array;
  /** Defaults to data.length; more means zero-filled BSS. */
  memsz?: number;
}

export interface TestElf {
  entry?: number;
  machine?: number;
  elfClass?: number;
  dataEncoding?: number;
  type?: number;
  flags?: number;
  segments: TestSegment[];
  symbols?: Record<string, number>;
}

export function buildElf(spec: TestElf): Uint8Array {
  const syms = Object.entries(spec.symbols ?? {});
  const enc = new TextEncoder();
  const strtab: number[] = [0];
  const nameOffsets = syms.map(([name]) => {
    const off = strtab.length;
    strtab.push(...enc.encode(name), 0);
    return off;
  });

  const phoff = 52;
  let offset = phoff + 32 * spec.segments.length;
  const segOffsets = spec.segments.map((s) => {
    const o = offset;
    offset += s.data.length;
    return o;
  });
  const symoff = (offset + 3) & ~3;
  const symsize = 16 * (syms.length + 1);
  const stroff = symoff + symsize;
  const shoff = (stroff + strtab.length + 3) & ~3;
  const total = syms.length ? shoff + 3 * 40 : offset;

  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, spec.elfClass ?? 1, spec.dataEncoding ?? 1, 1]);
  // Enough of a big-endian file for the loader to read its machine in its own byte order.
  const le = (spec.dataEncoding ?? 1) === 1;
  v.setUint16(16, spec.type ?? 2, le);
  v.setUint16(18, spec.machine ?? 243, le);
  v.setUint32(20, 1, true);
  v.setUint32(24, spec.entry ?? spec.segments[0]?.paddr ?? 0, true);
  v.setUint32(28, phoff, true);
  v.setUint32(32, syms.length ? shoff : 0, true);
  v.setUint32(36, spec.flags ?? 0, true);
  v.setUint16(40, 52, true);
  v.setUint16(42, 32, true);
  v.setUint16(44, spec.segments.length, true);
  v.setUint16(46, 40, true);
  v.setUint16(48, syms.length ? 3 : 0, true);

  spec.segments.forEach((s, i) => {
    const o = phoff + 32 * i;
    v.setUint32(o, 1, true); // PT_LOAD
    v.setUint32(o + 4, segOffsets[i]!, true);
    v.setUint32(o + 8, s.paddr, true);
    v.setUint32(o + 12, s.paddr, true);
    v.setUint32(o + 16, s.data.length, true);
    v.setUint32(o + 20, s.memsz ?? s.data.length, true);
    v.setUint32(o + 24, 7, true);
    b.set(s.data, segOffsets[i]!);
  });

  if (syms.length) {
    syms.forEach(([, value], i) => {
      const o = symoff + 16 * (i + 1);
      v.setUint32(o, nameOffsets[i]!, true);
      v.setUint32(o + 4, value, true);
      b[o + 12] = 0x11; // global object
    });
    b.set(strtab, stroff);
    const sh = (i: number, type: number, off: number, size: number, link: number) => {
      const o = shoff + 40 * i;
      v.setUint32(o + 4, type, true);
      v.setUint32(o + 16, off, true);
      v.setUint32(o + 20, size, true);
      v.setUint32(o + 24, link, true);
    };
    sh(1, 2, symoff, symsize, 2); // .symtab -> .strtab
    sh(2, 3, stroff, strtab.length, 0);
  }
  return b;
}
