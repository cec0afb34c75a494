// `hypernova img`: disk image tool with qemu-img's subcommands, flags, output and exit codes
// (create, info, check, convert, compare), built on the hypervisor's block backends.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  BlockError,
  Qcow2,
  RawBackend,
  checkQcow2,
  detectFormat,
  openDisk,
  resolveBackingPath,
  type BlockBackend,
  type CheckReport,
  type DiskFormat,
} from '@hypernova/hypervisor/block';
// The VM process's usage error serves here too: one class for a command line that does not parse.
import { UsageError } from '@hypernova/compute-node/vmm';

export interface ImgIO {
  stdout(text: string): void;
  stderr(text: string): void;
}

const processIO: ImgIO = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
};

const PROG = 'hypernova img';

const USAGE = `usage: ${PROG} COMMAND [OPTIONS]
  create [-q] [-f FMT] [-b BACKING [-F BACKING_FMT]] [-u] [-o OPTIONS] FILENAME [SIZE]
  info [-f FMT] [--output=human|json] [--backing-chain] FILENAME
  check [-q] [-f FMT] [--output=human|json] FILENAME
  convert [-q] [-f FMT] [-O OUTPUT_FMT] [-B BACKING [-F BACKING_FMT]] [-o OPTIONS] SRC DST
  compare [-q] [-f FMT] [-F FMT] [-s] FILENAME1 FILENAME2
FMT is raw or qcow2 (detected when omitted). SIZE takes k, M, G, T, P or E suffixes.
qcow2 -o options: cluster_size, refcount_bits, backing_file, backing_fmt, compat=1.1
`;

export async function imgCommand(argv: string[], io: ImgIO = processIO): Promise<number> {
  const [cmd, ...args] = argv;
  try {
    switch (cmd) {
      case 'create':
        return create(args, io);
      case 'info':
        return info(args, io);
      case 'check':
        return check(args, io);
      case 'convert':
        return convert(args, io);
      case 'compare':
        return compare(args, io);
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        io.stdout(USAGE);
        return cmd === undefined ? 1 : 0;
      default:
        throw new UsageError(`Command not found: ${cmd}\n${USAGE}`);
    }
  } catch (e) {
    io.stderr(`${PROG}: ${errorText(e)}\n`);
    // compare reserves 1 for "images differ"; its errors are 2, as in qemu-img.
    return cmd === 'compare' ? 2 : 1;
  }
}

function errorText(e: unknown): string {
  if (e instanceof BlockError || e instanceof UsageError) return e.message;
  if (e instanceof Error && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS')) return e.message;
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  return parseArgs({ args, options, allowPositionals: true, strict: true });
}

function format(value: string | undefined, what = 'format'): DiskFormat | undefined {
  if (value === undefined) return undefined;
  if (value !== 'raw' && value !== 'qcow2') throw new UsageError(`Unknown ${what} '${value}' (supported: raw, qcow2)`);
  return value;
}

// ---- sizes --------------------------------------------------------------------------------

const SUFFIX: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50, e: 2 ** 60 };

/** qemu's size syntax: bytes, or a (possibly fractional) number with a binary unit suffix. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmgtpe])?$/i.exec(text.trim());
  const value = m ? Math.round(Number(m[1]) * SUFFIX[(m[2] ?? 'b').toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(value) || (m && m[1]!.includes('.') && !m[2])) {
    throw new UsageError(
      `Invalid image size specified: '${text}'. You may use k, M, G, T, P or E suffixes for kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.`,
    );
  }
  return value;
}

/** qemu's size_to_str: three significant digits, switching unit at 1000 of the smaller one. */
export function sizeToStr(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  const exp = bytes > 0 ? Math.floor(Math.log2(bytes / (1000 / 1024))) + 1 : 0;
  const i = Math.min(units.length - 1, Math.max(0, Math.trunc((exp - 1) / 10)));
  const v = bytes / 2 ** (10 * i);
  return `${Number(v.toPrecision(3))} ${units[i]}`;
}

// ---- -o key=value lists -------------------------------------------------------------------

function parseOptionList(list: string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of list ?? []) {
    for (const kv of item.split(',')) {
      if (kv === '') continue;
      const eq = kv.indexOf('=');
      if (eq < 0) throw new UsageError(`Invalid option '${kv}': expected key=value`);
      out.set(kv.slice(0, eq), kv.slice(eq + 1));
    }
  }
  return out;
}

interface Qcow2Options {
  clusterBits?: number;
  refcountBits?: number;
}

/** The qcow2 creation options we honour; the ones we cannot honour are refused, not ignored. */
function qcow2Options(o: Map<string, string>, fmt: DiskFormat): Qcow2Options {
  const r: Qcow2Options = {};
  for (const [k, v] of o) {
    const bad = (): never => {
      throw new UsageError(`Unsupported value '${v}' for option '${k}'`);
    };
    if (fmt === 'raw' && k !== 'size' && k !== 'preallocation')
      throw new UsageError(`Invalid parameter '${k}' for format raw`);
    switch (k) {
      case 'size':
      case 'backing_file':
      case 'backing_fmt':
        break; // handled by the caller
      case 'cluster_size': {
        const cs = parseSize(v);
        const bits = Math.log2(cs);
        if (!Number.isInteger(bits) || bits < 9 || bits > 21)
          throw new UsageError('Cluster size must be a power of two between 512 and 2048k');
        r.clusterBits = bits;
        break;
      }
      case 'refcount_bits': {
        const bits = Number(v);
        if (![1, 2, 4, 8, 16, 32, 64].includes(bits))
          throw new UsageError('Refcount width must be a power of two and may not exceed 64 bits');
        r.refcountBits = bits;
        break;
      }
      case 'compat':
        if (v !== '1.1' && v !== 'v3')
          throw new UsageError(`compat=${v} is not supported: images are created as version 3 (compat=1.1)`);
        break;
      case 'lazy_refcounts':
      case 'extended_l2':
        if (v !== 'off' && v !== 'false') bad();
        break;
      case 'preallocation':
        if (v !== 'off') bad();
        break;
      case 'compression_type':
        if (v !== 'zlib') bad();
        break;
      default:
        throw new UsageError(`Invalid parameter '${k}'`);
    }
  }
  return r;
}

// ---- create ---------------------------------------------------------------------------------

function create(args: string[], io: ImgIO): number {
  const { values, positionals } = parse(args, {
    f: { type: 'string', short: 'f' },
    b: { type: 'string', short: 'b' },
    F: { type: 'string', short: 'F' },
    o: { type: 'string', short: 'o', multiple: true },
    q: { type: 'boolean', short: 'q' },
    u: { type: 'boolean', short: 'u' },
  });
  const [file, sizeArg, ...extra] = positionals;
  if (file === undefined || extra.length > 0)
    throw new UsageError(`Expecting a filename and an optional size\n${USAGE}`);
  const fmt = format(values.f) ?? 'raw';
  const o = parseOptionList(values.o);
  const q = qcow2Options(o, fmt);
  const backing = values.b ?? o.get('backing_file');
  let backingFmt = format(values.F ?? o.get('backing_fmt'), 'backing format');
  if (backing !== undefined && fmt === 'raw') throw new UsageError("Backing file not supported for file format 'raw'");
  const sizeText = sizeArg ?? o.get('size');
  let size = sizeText === undefined ? undefined : parseSize(sizeText);
  if (backing !== undefined && (!values.u || size === undefined)) {
    // Like qemu-img: the backing file must open (unless -u), and gives the size when none is given.
    const where = resolveBackingPath(file, backing);
    backingFmt ??= detectFormat(where);
    const base = openDisk(where, { format: backingFmt, readOnly: true });
    size ??= base.sizeBytes;
    base.close();
  }
  if (size === undefined) throw new UsageError('Image creation needs a size parameter');
  if (fmt === 'raw') {
    if (!values.q) io.stdout(`Formatting '${file}', fmt=raw size=${size}\n`);
    RawBackend.create(file, Math.ceil(size / 512) * 512);
    return 0;
  }
  const clusterBits = q.clusterBits ?? 16;
  const refcountBits = q.refcountBits ?? 16;
  if (!values.q) {
    const b = backing === undefined ? '' : ` backing_file=${backing}${backingFmt ? ` backing_fmt=${backingFmt}` : ''}`;
    io.stdout(
      `Formatting '${file}', fmt=qcow2 cluster_size=${2 ** clusterBits} extended_l2=off compression_type=zlib size=${size}${b} lazy_refcounts=off refcount_bits=${refcountBits}\n`,
    );
  }
  Qcow2.create(file, { size, clusterBits, refcountBits, backingFile: backing, backingFormat: backingFmt });
  return 0;
}

// ---- info -----------------------------------------------------------------------------------

interface ImageInfo {
  [key: string]: unknown;
}

/** One image's description, with qemu-img's JSON keys in qemu-img's order. */
function describe(
  path: string,
  fmtArg: DiskFormat | undefined,
): { info: ImageInfo; backing?: { path: string; format?: DiskFormat } } {
  const fmt = fmtArg ?? detectFormat(path);
  if (fmt === 'raw') {
    const raw = RawBackend.open(path, { readOnly: true });
    try {
      return {
        info: {
          'virtual-size': raw.sizeBytes,
          filename: path,
          format: 'raw',
          'actual-size': raw.allocatedBytes(),
          'dirty-flag': false,
        },
      };
    } finally {
      raw.close();
    }
  }
  const img = Qcow2.open(path, { readOnly: true, ignoreBacking: true });
  try {
    const h = img.header;
    const info: ImageInfo = {};
    if (img.snapshots.snapshots.length > 0) {
      info.snapshots = img.snapshots.snapshots.map((s) => ({
        icount: s.icount < 0 ? undefined : s.icount,
        'vm-clock-nsec': Number(s.vmClockNs % 1_000_000_000n),
        name: s.name,
        'date-sec': s.dateSec,
        'date-nsec': s.dateNsec,
        'vm-clock-sec': Number(s.vmClockNs / 1_000_000_000n),
        id: s.id,
        'vm-state-size': s.vmStateSize,
      }));
    }
    if (h.backingFormat !== undefined) info['backing-filename-format'] = h.backingFormat;
    info['virtual-size'] = img.sizeBytes;
    info.filename = path;
    info['cluster-size'] = img.clusterSize;
    info.format = 'qcow2';
    info['actual-size'] = img.allocatedBytes();
    const data: ImageInfo =
      h.version === 2
        ? { compat: '0.10', 'compression-type': 'zlib', 'refcount-bits': img.refcountBits }
        : {
            compat: '1.1',
            'compression-type': h.compressionType === 1 ? 'zstd' : 'zlib',
            'lazy-refcounts': img.lazyRefcounts,
            'refcount-bits': img.refcountBits,
            corrupt: (h.incompatibleFeatures & 2n) !== 0n,
            'extended-l2': (h.incompatibleFeatures & 16n) !== 0n,
          };
    info['format-specific'] = { type: 'qcow2', data };
    if (h.backingFile !== undefined) {
      info['full-backing-filename'] = img.backingPath;
      info['backing-filename'] = h.backingFile;
    }
    info['dirty-flag'] = (h.incompatibleFeatures & 1n) !== 0n;
    const backing =
      img.backingPath === undefined ? undefined : { path: img.backingPath, format: format(h.backingFormat) };
    return { info, backing };
  } finally {
    img.close();
  }
}

function humanInfo(i: ImageInfo): string {
  const lines = [
    `image: ${i.filename}`,
    `file format: ${i.format}`,
    `virtual size: ${sizeToStr(i['virtual-size'] as number)} (${i['virtual-size']} bytes)`,
    `disk size: ${sizeToStr(i['actual-size'] as number)}`,
  ];
  if (i['cluster-size'] !== undefined) lines.push(`cluster_size: ${i['cluster-size']}`);
  if (i['backing-filename'] !== undefined) {
    const full = i['full-backing-filename'];
    lines.push(
      `backing file: ${i['backing-filename']}${full !== i['backing-filename'] ? ` (actual path: ${full})` : ''}`,
    );
  }
  if (i['backing-filename-format'] !== undefined) lines.push(`backing file format: ${i['backing-filename-format']}`);
  const snaps = i.snapshots as ImageInfo[] | undefined;
  if (snaps) {
    lines.push('Snapshot list:', row('ID', 'TAG', 'VM SIZE', 'DATE', 'VM CLOCK', 'ICOUNT'));
    for (const s of snaps) {
      const d = new Date((s['date-sec'] as number) * 1000);
      const p2 = (n: number): string => String(n).padStart(2, '0');
      const date = `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
      const sec = s['vm-clock-sec'] as number;
      const clock = `${p2(Math.floor(sec / 3600))}:${p2(Math.floor(sec / 60) % 60)}:${p2(sec % 60)}.${String(Math.floor((s['vm-clock-nsec'] as number) / 1e6)).padStart(3, '0')}`;
      lines.push(
        row(
          String(s.id),
          String(s.name),
          sizeToStr(s['vm-state-size'] as number),
          date,
          clock,
          s.icount === undefined ? '' : String(s.icount),
        ),
      );
    }
  }
  const fs = i['format-specific'] as { data: ImageInfo } | undefined;
  if (fs) {
    lines.push('Format specific information:');
    for (const [k, v] of Object.entries(fs.data)) lines.push(`    ${k.replace(/-/g, ' ')}: ${v}`);
  }
  return lines.join('\n') + '\n';
}

/** qemu's snapshot list columns: "%-9s %-16s %8s%20s%13s%11s". */
function row(id: string, tag: string, size: string, date: string, clock: string, icount: string): string {
  return `${id.padEnd(9)} ${tag.padEnd(16)} ${size.padStart(8)}${date.padStart(20)}${clock.padStart(13)}${icount.padStart(11)}`;
}

function info(args: string[], io: ImgIO): number {
  const { values, positionals } = parse(args, {
    f: { type: 'string', short: 'f' },
    output: { type: 'string' },
    'backing-chain': { type: 'boolean' },
    U: { type: 'boolean', short: 'U' },
  });
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new UsageError(`Expecting one image file name\n${USAGE}`);
  const output = outputFormat(values.output);
  const chain: ImageInfo[] = [];
  let next: { path: string; format?: DiskFormat } | undefined = { path: file, format: format(values.f) };
  while (next) {
    if (chain.length > 16) throw new UsageError('backing chain is deeper than 16 images');
    const d = describe(next.path, next.format);
    chain.push(d.info);
    next = values['backing-chain'] ? d.backing : undefined;
  }
  if (output === 'json') io.stdout(json(values['backing-chain'] ? chain : chain[0]) + '\n');
  else io.stdout(chain.map(humanInfo).join('\n'));
  return 0;
}

function outputFormat(v: string | undefined): 'human' | 'json' {
  if (v === undefined || v === 'human') return 'human';
  if (v === 'json') return 'json';
  throw new UsageError(`--output must be used with human or json as argument.`);
}

/** JSON as qemu-img prints it: four-space indentation. */
function json(v: unknown): string {
  return JSON.stringify(v, null, 4);
}

// ---- check ----------------------------------------------------------------------------------

function check(args: string[], io: ImgIO): number {
  const { values, positionals } = parse(args, {
    f: { type: 'string', short: 'f' },
    output: { type: 'string' },
    q: { type: 'boolean', short: 'q' },
    r: { type: 'string', short: 'r' },
    U: { type: 'boolean', short: 'U' },
  });
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) throw new UsageError(`Expecting one image file name\n${USAGE}`);
  if (values.r !== undefined) throw new UsageError('Repair (-r) is not supported; use qemu-img check -r');
  const output = outputFormat(values.output);
  const fmt = format(values.f) ?? detectFormat(file);
  if (fmt === 'raw') {
    io.stderr(`${PROG}: This image format does not support checks\n`);
    return 63;
  }
  const r = checkQcow2(file);
  for (const m of r.messages) io.stderr(m + '\n');
  if (output === 'json') io.stdout(json(checkJson(r, file)) + '\n');
  else if (!values.q) io.stdout(checkHuman(r));
  if (r.checkErrors > 0) return 1;
  return r.corruptions > 0 ? 2 : r.leaks > 0 ? 3 : 0;
}

function checkHuman(r: CheckReport): string {
  let s = '';
  if (r.corruptions === 0 && r.leaks === 0 && r.checkErrors === 0) s += 'No errors were found on the image.\n';
  if (r.corruptions > 0)
    s += `\n${r.corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n`;
  if (r.leaks > 0)
    s += `\n${r.leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n`;
  if (r.checkErrors > 0) s += `\n${r.checkErrors} internal errors have occurred during the check.\n`;
  if (r.totalClusters > 0 && r.allocatedClusters > 0) {
    const pct = (a: number, b: number): string => ((a / b) * 100).toFixed(2);
    s += `${r.allocatedClusters}/${r.totalClusters} = ${pct(r.allocatedClusters, r.totalClusters)}% allocated, ${pct(r.fragmentedClusters, r.allocatedClusters)}% fragmented, ${pct(r.compressedClusters, r.allocatedClusters)}% compressed clusters\n`;
  }
  if (r.imageEndOffset > 0) s += `Image end offset: ${r.imageEndOffset}\n`;
  return s;
}

function checkJson(r: CheckReport, file: string): ImageInfo {
  const o: ImageInfo = {
    'image-end-offset': r.imageEndOffset,
    'total-clusters': r.totalClusters,
    'check-errors': r.checkErrors,
  };
  if (r.corruptions > 0) o.corruptions = r.corruptions;
  if (r.leaks > 0) o.leaks = r.leaks;
  o['allocated-clusters'] = r.allocatedClusters;
  if (r.fragmentedClusters > 0) o['fragmented-clusters'] = r.fragmentedClusters;
  if (r.compressedClusters > 0) o['compressed-clusters'] = r.compressedClusters;
  o.filename = file;
  o.format = 'qcow2';
  return o;
}

// ---- convert --------------------------------------------------------------------------------

function convert(args: string[], io: ImgIO): number {
  const { values, positionals } = parse(args, {
    f: { type: 'string', short: 'f' },
    O: { type: 'string', short: 'O' },
    B: { type: 'string', short: 'B' },
    F: { type: 'string', short: 'F' },
    o: { type: 'string', short: 'o', multiple: true },
    c: { type: 'boolean', short: 'c' },
    p: { type: 'boolean', short: 'p' },
    q: { type: 'boolean', short: 'q' },
    U: { type: 'boolean', short: 'U' },
  });
  const [srcPath, dstPath, ...extra] = positionals;
  if (srcPath === undefined || dstPath === undefined || extra.length > 0)
    throw new UsageError(`Expecting a source and a destination\n${USAGE}`);
  if (values.c) throw new UsageError('Compressed output (-c) is not supported');
  const outFmt = format(values.O) ?? 'raw';
  const o = parseOptionList(values.o);
  const q = qcow2Options(o, outFmt);
  const backing = values.B ?? o.get('backing_file');
  if (backing !== undefined && outFmt === 'raw')
    throw new UsageError("Backing file not supported for file format 'raw'");
  const src = openDisk(srcPath, { format: format(values.f), readOnly: true });
  try {
    let dst: BlockBackend;
    let base: BlockBackend | undefined;
    if (outFmt === 'raw') {
      RawBackend.create(dstPath, src.sizeBytes);
      dst = RawBackend.open(dstPath);
    } else {
      let backingFmt = format(values.F ?? o.get('backing_fmt'), 'backing format');
      if (backing !== undefined) backingFmt ??= detectFormat(resolveBackingPath(dstPath, backing));
      Qcow2.create(dstPath, {
        size: src.sizeBytes,
        clusterBits: q.clusterBits,
        refcountBits: q.refcountBits,
        backingFile: backing,
        backingFormat: backingFmt,
      });
      const img = openDisk(dstPath, { format: 'qcow2' }) as Qcow2;
      base = img.backingFile;
      dst = img;
    }
    try {
      copyData(src, dst, base, dst instanceof Qcow2 ? dst.clusterSize : 64 << 10, values.p ? io : undefined);
    } finally {
      dst.close();
    }
  } finally {
    src.close();
  }
  return 0;
}

/**
 * Copies src into a freshly created dst. Zero chunks are not written (the new image reads
 * zeroes there already, so the output stays sparse); over a backing file, chunks equal to
 * the backing's are skipped and zero chunks become zero clusters.
 */
function copyData(
  src: BlockBackend,
  dst: BlockBackend,
  base: BlockBackend | undefined,
  chunk: number,
  progress: ImgIO | undefined,
): void {
  const buf = new Uint8Array(chunk);
  const baseBuf = new Uint8Array(chunk);
  let lastPct = -1;
  for (let off = 0; off < src.sizeBytes; off += chunk) {
    const n = Math.min(chunk, src.sizeBytes - off);
    const data = buf.subarray(0, n);
    src.read(off, data);
    const zero = isZero(data);
    if (base) {
      const have = Math.max(0, Math.min(n, base.sizeBytes - off));
      const b = baseBuf.subarray(0, n);
      if (have > 0) base.read(off, b.subarray(0, have));
      b.fill(0, have);
      if (Buffer.compare(data, b) === 0) continue;
      if (zero) dst.writeZeroes!(off, n, true);
      else dst.write(off, data);
    } else if (!zero) {
      dst.write(off, data);
    }
    const pct = Math.floor(((off + n) / src.sizeBytes) * 100);
    if (progress && pct !== lastPct) progress.stdout(`    (${pct.toFixed(2)}/100%)\r`);
    lastPct = pct;
  }
  if (progress) progress.stdout('\n');
}

function isZero(b: Uint8Array): boolean {
  const words =
    b.length % 8 === 0 && b.byteOffset % 8 === 0 ? new BigUint64Array(b.buffer, b.byteOffset, b.length / 8) : undefined;
  if (words) {
    for (const w of words) if (w !== 0n) return false;
    return true;
  }
  for (const x of b) if (x !== 0) return false;
  return true;
}

// ---- compare --------------------------------------------------------------------------------

function compare(args: string[], io: ImgIO): number {
  const { values, positionals } = parse(args, {
    f: { type: 'string', short: 'f' },
    F: { type: 'string', short: 'F' },
    s: { type: 'boolean', short: 's' },
    q: { type: 'boolean', short: 'q' },
    p: { type: 'boolean', short: 'p' },
    U: { type: 'boolean', short: 'U' },
  });
  const [p1, p2, ...extra] = positionals;
  if (p1 === undefined || p2 === undefined || extra.length > 0)
    throw new UsageError(`Expecting two image file names\n${USAGE}`);
  const a = openDisk(p1, { format: format(values.f), readOnly: true });
  try {
    const b = openDisk(p2, { format: format(values.F), readOnly: true });
    try {
      const say = (t: string): void => {
        if (!values.q) io.stdout(t + '\n');
      };
      const common = Math.min(a.sizeBytes, b.sizeBytes);
      if (a.sizeBytes !== b.sizeBytes && values.s) {
        say('Strict mode: Image size mismatch!');
        return 1;
      }
      const mismatch = firstDifference(a, b, common);
      if (mismatch !== undefined) {
        say(`Content mismatch at offset ${mismatch}!`);
        return 1;
      }
      if (a.sizeBytes !== b.sizeBytes) {
        say('Warning: Image size mismatch!');
        const longer = a.sizeBytes > b.sizeBytes ? a : b;
        const nonzero = firstDifference(longer, undefined, longer.sizeBytes, common);
        if (nonzero !== undefined) {
          say(`Content mismatch at offset ${nonzero}!`);
          return 1;
        }
      }
      say('Images are identical.');
      return 0;
    } finally {
      b.close();
    }
  } finally {
    a.close();
  }
}

/** Offset of the first 512-byte sector in [from, end) where a and b (or zeroes) differ, as qemu-img reports it. */
function firstDifference(a: BlockBackend, b: BlockBackend | undefined, end: number, from = 0): number | undefined {
  const chunk = 1 << 20;
  const x = new Uint8Array(chunk);
  const y = new Uint8Array(chunk);
  for (let off = from; off < end; off += chunk) {
    const n = Math.min(chunk, end - off);
    const xa = x.subarray(0, n);
    const yb = y.subarray(0, n);
    a.read(off, xa);
    if (b) b.read(off, yb);
    else yb.fill(0);
    if (Buffer.compare(xa, yb) === 0) continue;
    for (let i = 0; i < n; i++) {
      if (xa[i] !== yb[i]) {
        const at = off + i;
        return Math.max(from, at - (at % 512));
      }
    }
  }
  return undefined;
}
