// A small flattened device tree (DTB, devicetree specification v0.4 chapter 5) writer and
// reader. The tree is plain nodes with ordered properties holding raw big-endian bytes; the
// helpers build the usual value types (cells, 64-bit numbers, string lists).
//
// Layout of the blob, as libfdt/QEMU lay it out: header (40 bytes), memory reservation map
// (8-aligned, 16-byte entries ending in a zero entry), structure block, strings block.

export const FDT_MAGIC = 0xd00d_feed;
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
const HEADER_SIZE = 40;

const FDT_BEGIN_NODE = 1;
const FDT_END_NODE = 2;
const FDT_PROP = 3;
const FDT_NOP = 4;
const FDT_END = 9;

export class DtbError extends Error {
  override readonly name = 'DtbError';
}

/** Property values. */
export const fdtValue = {
  /** 32-bit big-endian cells. */
  cells: (...cells: number[]): Uint8Array => {
    const b = new Uint8Array(4 * cells.length);
    const v = new DataView(b.buffer);
    cells.forEach((c, i) => v.setUint32(4 * i, c >>> 0));
    return b;
  },
  /** 64-bit numbers (below 2^53) as two cells each, high first. */
  u64: (...values: number[]): Uint8Array =>
    fdtValue.cells(...values.flatMap((x) => [Math.floor(x / 0x1_0000_0000), x % 0x1_0000_0000])),
  /** A string list: each NUL-terminated. */
  strings: (...strings: string[]): Uint8Array => new TextEncoder().encode(strings.map((s) => `${s}\0`).join('')),
  empty: (): Uint8Array => new Uint8Array(0),
};

export interface FdtProperty {
  name: string;
  value: Uint8Array;
}

export class FdtNode {
  readonly props: FdtProperty[] = [];
  readonly children: FdtNode[] = [];

  /** `name` is the node name with its unit address ("serial@10000000"); the root's is "". */
  constructor(readonly name: string) {}

  /** Sets (or replaces, keeping its place) a property. */
  set(name: string, value: Uint8Array): this {
    const p = this.props.find((q) => q.name === name);
    if (p) p.value = value;
    else this.props.push({ name, value });
    return this;
  }

  cells(name: string, ...cells: number[]): this {
    return this.set(name, fdtValue.cells(...cells));
  }

  u64(name: string, ...values: number[]): this {
    return this.set(name, fdtValue.u64(...values));
  }

  strings(name: string, ...strings: string[]): this {
    return this.set(name, fdtValue.strings(...strings));
  }

  flag(name: string): this {
    return this.set(name, fdtValue.empty());
  }

  remove(name: string): this {
    const i = this.props.findIndex((p) => p.name === name);
    if (i >= 0) this.props.splice(i, 1);
    return this;
  }

  get(name: string): Uint8Array | undefined {
    return this.props.find((p) => p.name === name)?.value;
  }

  /** The property as a string (its first, for a list). */
  getString(name: string): string | undefined {
    const v = this.get(name);
    return v === undefined ? undefined : new TextDecoder().decode(v).split('\0')[0];
  }

  getCells(name: string): number[] | undefined {
    const v = this.get(name);
    if (v === undefined) return undefined;
    const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
    return Array.from({ length: v.length >>> 2 }, (_, i) => dv.getUint32(4 * i));
  }

  /** Appends a new child and returns it. */
  add(name: string): FdtNode {
    const n = new FdtNode(name);
    this.children.push(n);
    return n;
  }

  child(name: string): FdtNode | undefined {
    return this.children.find((c) => c.name === name);
  }

  /** The node at a path relative to this one ("/soc/serial@10000000"), if any. */
  find(path: string): FdtNode | undefined {
    return path
      .split('/')
      .filter((s) => s !== '')
      .reduce<FdtNode | undefined>((n, part) => n?.child(part), this);
  }
}

/** Hands out phandles 1, 2, 3... */
export class Phandles {
  private next = 1;

  /** A new phandle, for the caller to set on its node later. */
  alloc(): number {
    return this.next++;
  }

  /** A new phandle, set on `node` now. */
  assign(node: FdtNode): number {
    const ph = this.alloc();
    node.cells('phandle', ph);
    return ph;
  }
}

export interface MemReservation {
  address: number;
  size: number;
}

export interface Fdt {
  root: FdtNode;
  reservations: MemReservation[];
  bootCpuidPhys: number;
}

export interface EncodeOptions {
  reservations?: MemReservation[];
  bootCpuidPhys?: number;
  /** Free bytes to leave at the end (inside totalsize) for software that edits the tree in place. */
  padding?: number;
}

/** Serialises a tree into a DTB. */
export function encodeFdt(root: FdtNode, opts: EncodeOptions = {}): Uint8Array {
  const strings: number[] = [];
  const stringOffsets = new Map<string, number>();
  const enc = new TextEncoder();
  const nameOffset = (name: string): number => {
    let off = stringOffsets.get(name);
    if (off === undefined) {
      off = strings.length;
      strings.push(...enc.encode(name), 0);
      stringOffsets.set(name, off);
    }
    return off;
  };

  const struct: number[] = [];
  const u32 = (v: number) => struct.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const bytesAligned = (b: ArrayLike<number>) => {
    for (let i = 0; i < b.length; i++) struct.push(b[i]!);
    while (struct.length % 4) struct.push(0);
  };
  const emit = (node: FdtNode) => {
    if (node.name.includes('/')) throw new DtbError(`node name '${node.name}' contains '/'`);
    u32(FDT_BEGIN_NODE);
    bytesAligned([...enc.encode(node.name), 0]);
    for (const p of node.props) {
      u32(FDT_PROP);
      u32(p.value.length);
      u32(nameOffset(p.name));
      bytesAligned(p.value);
    }
    node.children.forEach(emit);
    u32(FDT_END_NODE);
  };
  emit(root);
  u32(FDT_END);

  const rsv = [...(opts.reservations ?? []), { address: 0, size: 0 }];
  const offRsv = HEADER_SIZE; // already 8-aligned
  const offStruct = offRsv + 16 * rsv.length;
  const offStrings = offStruct + struct.length;
  const total = offStrings + strings.length + (opts.padding ?? 0);

  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  [
    FDT_MAGIC,
    total,
    offStruct,
    offStrings,
    offRsv,
    FDT_VERSION,
    FDT_LAST_COMP_VERSION,
    opts.bootCpuidPhys ?? 0,
    strings.length,
    struct.length,
  ].forEach((w, i) => v.setUint32(4 * i, w >>> 0));
  rsv.forEach((r, i) => {
    const o = offRsv + 16 * i;
    v.setBigUint64(o, BigInt(r.address));
    v.setBigUint64(o + 8, BigInt(r.size));
  });
  out.set(struct, offStruct);
  out.set(strings, offStrings);
  return out;
}

interface Header {
  totalsize: number;
  offStruct: number;
  offStrings: number;
  offRsv: number;
  version: number;
  bootCpuidPhys: number;
  sizeStrings: number;
  sizeStruct: number;
}

/**
 * Checks a DTB's header (as firmware and kernels do before trusting it) and returns it.
 * Throws a DtbError saying what is wrong.
 */
function checkHeader(bytes: Uint8Array): Header {
  if (bytes.length < HEADER_SIZE)
    throw new DtbError(`${bytes.length} bytes is too short for a device tree blob header`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getUint32(0);
  if (magic !== FDT_MAGIC) {
    throw new DtbError(`not a device tree blob: magic 0x${magic.toString(16).padStart(8, '0')}, expected 0xd00dfeed`);
  }
  const h: Header = {
    totalsize: v.getUint32(4),
    offStruct: v.getUint32(8),
    offStrings: v.getUint32(12),
    offRsv: v.getUint32(16),
    version: v.getUint32(20),
    bootCpuidPhys: v.getUint32(28),
    sizeStrings: v.getUint32(32),
    sizeStruct: v.getUint32(36),
  };
  const lastComp = v.getUint32(24);
  if (h.totalsize > bytes.length) {
    throw new DtbError(`truncated device tree blob: header says ${h.totalsize} bytes, file has ${bytes.length}`);
  }
  // Version 16 lacks size_dt_struct; both 16 and 17 read the same for everything else.
  if (h.version < 16 || lastComp > FDT_VERSION) {
    throw new DtbError(`unsupported device tree version ${h.version} (last compatible ${lastComp}); need 16 or 17`);
  }
  if (h.version < 17) h.sizeStruct = h.totalsize - h.offStruct;
  const inside = (off: number, size: number) => off >= HEADER_SIZE && off + size <= h.totalsize;
  if (!inside(h.offRsv, 16) || h.offRsv % 8) throw new DtbError(`bad memory reservation map offset ${h.offRsv}`);
  if (!inside(h.offStruct, h.sizeStruct) || h.offStruct % 4) {
    throw new DtbError(`structure block (offset ${h.offStruct}, ${h.sizeStruct} bytes) is outside the blob`);
  }
  if (!inside(h.offStrings, h.sizeStrings)) {
    throw new DtbError(`strings block (offset ${h.offStrings}, ${h.sizeStrings} bytes) is outside the blob`);
  }
  return h;
}

/** Parses a DTB into a tree. Throws a DtbError on malformed input. */
export function decodeFdt(bytes: Uint8Array): Fdt {
  const h = checkHeader(bytes);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder();
  /** The offset of the NUL ending the string at `start`. */
  const terminator = (start: number, limit: number, what: string): number => {
    const nul = bytes.indexOf(0, start);
    if (nul < 0 || nul >= limit) throw new DtbError(`unterminated ${what} at offset ${start}`);
    return nul;
  };

  const reservations: MemReservation[] = [];
  for (let o = h.offRsv; ; o += 16) {
    if (o + 16 > h.totalsize) throw new DtbError('memory reservation map has no terminating entry');
    const address = Number(v.getBigUint64(o));
    const size = Number(v.getBigUint64(o + 8));
    if (address === 0 && size === 0) break;
    reservations.push({ address, size });
  }

  const end = h.offStruct + h.sizeStruct;
  let p = h.offStruct;
  const word = (): number => {
    if (p + 4 > end) throw new DtbError('structure block ends before FDT_END');
    const w = v.getUint32(p);
    p += 4;
    return w;
  };
  const stack: FdtNode[] = [];
  let root: FdtNode | undefined;
  for (;;) {
    const token = word();
    if (token === FDT_BEGIN_NODE) {
      const nul = terminator(p, end, 'node name');
      const node = new FdtNode(dec.decode(bytes.subarray(p, nul)));
      p = (nul + 4) & ~3; // past the NUL, to the next word (offStruct is word-aligned)
      if (stack.length === 0) {
        if (root) throw new DtbError('more than one root node');
        root = node;
      } else stack[stack.length - 1]!.children.push(node);
      stack.push(node);
    } else if (token === FDT_PROP) {
      const len = word();
      const nameoff = word();
      if (stack.length === 0) throw new DtbError('property outside any node');
      if (p + len > end) throw new DtbError('property value runs past the structure block');
      if (nameoff >= h.sizeStrings) throw new DtbError(`property name offset ${nameoff} outside the strings block`);
      const at = h.offStrings + nameoff;
      const name = dec.decode(bytes.subarray(at, terminator(at, h.offStrings + h.sizeStrings, 'property name')));
      stack[stack.length - 1]!.props.push({ name, value: bytes.slice(p, p + len) });
      p += (len + 3) & ~3;
    } else if (token === FDT_END_NODE) {
      if (!stack.pop()) throw new DtbError('unbalanced FDT_END_NODE');
    } else if (token === FDT_NOP) {
      continue;
    } else if (token === FDT_END) {
      if (stack.length !== 0 || !root) throw new DtbError('FDT_END inside an open node');
      return { root, reservations, bootCpuidPhys: h.bootCpuidPhys };
    } else {
      throw new DtbError(`bad structure token 0x${token.toString(16)} at offset ${p - 4}`);
    }
  }
}

/** Validates a DTB given by the user (e.g. `--dtb FILE`); throws a DtbError saying what is wrong. */
export function validateDtb(bytes: Uint8Array): void {
  decodeFdt(bytes);
}
