// The qcow2 header (versions 2 and 3) and its extensions: parsing with validation, and the
// layout of a fresh header for Qcow2.create. Field meanings follow QEMU's docs/interop/qcow2.txt.

import { BlockError } from '../backend.js';
import type { HostFile } from '../file.js';

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const V2_HEADER_LENGTH = 72;
export const V3_HEADER_LENGTH = 104;
/** The header we write: v3 fields plus compression_type, padded to a multiple of 8 (as QEMU does). */
export const WRITTEN_HEADER_LENGTH = 112;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21; // QEMU's limit: 2 MiB clusters
export const MAX_L1_BYTES = 32 << 20; // QEMU's limit, keeps a hostile header from costing gigabytes
export const MAX_REFCOUNT_TABLE_BYTES = 8 << 20; // QEMU's limit
export const MAX_SNAPSHOTS = 65536;
export const MAX_BACKING_NAME = 1023;

/** Byte offsets of the header fields we patch in place after creation. */
export const FIELD = {
  refcountTableOffset: 48, // u64, followed by refcount_table_clusters u32 at 56
  incompatibleFeatures: 72,
  autoclearFeatures: 88,
} as const;

export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
export const INCOMPAT_EXTERNAL_DATA = 1n << 2n;
export const INCOMPAT_COMPRESSION_TYPE = 1n << 3n;
export const INCOMPAT_EXTENDED_L2 = 1n << 4n;
const INCOMPAT_KNOWN =
  INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_EXTERNAL_DATA | INCOMPAT_COMPRESSION_TYPE | INCOMPAT_EXTENDED_L2;
export const COMPAT_LAZY_REFCOUNTS = 1n << 0n;
export const AUTOCLEAR_BITMAPS = 1n << 0n;

export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_TABLE = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_CRYPTO = 0x0537be77;
export const EXT_DATA_FILE = 0x44415441;

export type FeatureType = 'incompatible' | 'compatible' | 'autoclear';
export interface FeatureName {
  type: FeatureType;
  bit: number;
  name: string;
}
const FEATURE_TYPES: FeatureType[] = ['incompatible', 'compatible', 'autoclear'];

/** The feature names QEMU writes into every image; we write the same table. */
export const KNOWN_FEATURES: readonly FeatureName[] = [
  { type: 'incompatible', bit: 0, name: 'dirty bit' },
  { type: 'incompatible', bit: 1, name: 'corrupt bit' },
  { type: 'incompatible', bit: 2, name: 'external data file' },
  { type: 'incompatible', bit: 3, name: 'compression type' },
  { type: 'incompatible', bit: 4, name: 'extended L2 entries' },
  { type: 'compatible', bit: 0, name: 'lazy refcounts' },
  { type: 'autoclear', bit: 0, name: 'bitmaps' },
  { type: 'autoclear', bit: 1, name: 'raw external data' },
];

export interface BitmapsExtension {
  nbBitmaps: number;
  directorySize: number;
  directoryOffset: number;
}

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  refcountOrder: number;
  headerLength: number;
  /** 0 = zlib, 1 = zstd. */
  compressionType: number;
  backingFile?: string;
  backingFormat?: string;
  featureNames: FeatureName[];
  bitmaps?: BitmapsExtension;
}

/** Reads and validates the header in cluster 0 against the file it came from. */
export function readHeader(file: HostFile): Qcow2Header {
  const path = file.path;
  const fail = (code: 'EFORMAT' | 'ECORRUPT' | 'EUNSUPPORTED', msg: string): never => {
    throw new BlockError(code, msg, path);
  };
  if (file.size < V2_HEADER_LENGTH) fail('EFORMAT', `file is too short (${file.size} bytes) to hold a qcow2 header`);
  const fixed = new Uint8Array(V3_HEADER_LENGTH);
  file.readPadded(0, fixed);
  const v = view(fixed);
  if (v.getUint32(0) !== QCOW2_MAGIC) fail('EFORMAT', 'not a qcow2 image (bad magic)');
  const version = v.getUint32(4);
  if (version !== 2 && version !== 3) fail('EUNSUPPORTED', `qcow2 version ${version} is not supported (only 2 and 3)`);
  if (version === 3 && file.size < V3_HEADER_LENGTH)
    fail('EFORMAT', `file is too short (${file.size} bytes) for a qcow2 v3 header`);
  const clusterBits = v.getUint32(20);
  if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
    fail(
      'EFORMAT',
      `cluster_bits ${clusterBits} is outside the supported range ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`,
    );
  }
  const clusterSize = 2 ** clusterBits;
  const h: Qcow2Header = {
    version: version as 2 | 3,
    backingFileOffset: u64(v, 8, 'backing_file_offset', path),
    backingFileSize: v.getUint32(16),
    clusterBits,
    size: u64(v, 24, 'size', path),
    cryptMethod: v.getUint32(32),
    l1Size: v.getUint32(36),
    l1TableOffset: u64(v, 40, 'l1_table_offset', path),
    refcountTableOffset: u64(v, 48, 'refcount_table_offset', path),
    refcountTableClusters: v.getUint32(56),
    nbSnapshots: v.getUint32(60),
    snapshotsOffset: u64(v, 64, 'snapshots_offset', path),
    incompatibleFeatures: 0n,
    compatibleFeatures: 0n,
    autoclearFeatures: 0n,
    refcountOrder: 4,
    headerLength: V2_HEADER_LENGTH,
    compressionType: 0,
    featureNames: [],
  };
  if (version === 3) {
    h.incompatibleFeatures = v.getBigUint64(72);
    h.compatibleFeatures = v.getBigUint64(80);
    h.autoclearFeatures = v.getBigUint64(88);
    h.refcountOrder = v.getUint32(96);
    h.headerLength = v.getUint32(100);
    if (h.headerLength < V3_HEADER_LENGTH || h.headerLength % 8 !== 0 || h.headerLength > clusterSize) {
      fail(
        'EFORMAT',
        `header_length ${h.headerLength} is invalid (must be a multiple of 8 in ${V3_HEADER_LENGTH}..${clusterSize})`,
      );
    }
    if (h.refcountOrder > 6)
      fail('EFORMAT', `refcount_order ${h.refcountOrder} is invalid (at most 6, i.e. 64-bit refcounts)`);
  }

  // Everything else lives in cluster 0: the rest of the header, the extensions, the backing name.
  const first = new Uint8Array(Math.min(clusterSize, Math.max(file.size, h.headerLength)));
  file.readPadded(0, first);
  const fv = view(first);
  if (h.headerLength > V3_HEADER_LENGTH) h.compressionType = first[104]!;

  parseExtensions(h, first, fv, path);
  checkFeatures(h, path);

  if (h.cryptMethod !== 0) {
    fail(
      'EUNSUPPORTED',
      `encrypted qcow2 images (${h.cryptMethod === 1 ? 'AES' : h.cryptMethod === 2 ? 'LUKS' : `method ${h.cryptMethod}`}) are not supported`,
    );
  }
  if (h.backingFileOffset !== 0) {
    if (h.backingFileSize > MAX_BACKING_NAME)
      fail('EFORMAT', `backing file name is ${h.backingFileSize} bytes long (at most ${MAX_BACKING_NAME})`);
    if (h.backingFileOffset < h.headerLength || h.backingFileOffset + h.backingFileSize > clusterSize) {
      fail(
        'ECORRUPT',
        `backing file name at 0x${h.backingFileOffset.toString(16)} (+${h.backingFileSize}) is not within the header cluster`,
      );
    }
    if (h.backingFileOffset + h.backingFileSize > file.size)
      fail('ECORRUPT', 'backing file name lies beyond the end of the file: image truncated?');
    h.backingFile = Buffer.from(first.subarray(h.backingFileOffset, h.backingFileOffset + h.backingFileSize)).toString(
      'utf8',
    );
    if (h.backingFile.includes('\0')) fail('ECORRUPT', 'backing file name contains a NUL byte');
  }
  checkTables(h, file.size, path);
  return h;
}

function parseExtensions(h: Qcow2Header, first: Uint8Array, v: DataView, path: string): void {
  // Extensions end at the first END marker, and never run into the backing file name.
  const limit = h.backingFileOffset !== 0 && h.backingFileOffset < first.length ? h.backingFileOffset : first.length;
  const seen = new Set<number>();
  let pos = h.headerLength;
  while (pos + 8 <= limit) {
    const type = v.getUint32(pos);
    const len = v.getUint32(pos + 4);
    if (type === EXT_END) return;
    const data = pos + 8;
    if (len > limit - data) {
      throw new BlockError(
        'ECORRUPT',
        `header extension 0x${type.toString(16)} at ${pos} (${len} bytes) overflows the header cluster`,
        path,
      );
    }
    if (seen.has(type) && type !== 0)
      throw new BlockError('ECORRUPT', `header extension 0x${type.toString(16)} appears twice`, path);
    seen.add(type);
    const body = first.subarray(data, data + len);
    switch (type) {
      case EXT_BACKING_FORMAT:
        h.backingFormat = Buffer.from(body).toString('utf8');
        break;
      case EXT_FEATURE_TABLE:
        for (let e = 0; e + 48 <= len; e += 48) {
          const t = body[e]!;
          const nameBytes = body.subarray(e + 2, e + 48);
          const nul = nameBytes.indexOf(0);
          h.featureNames.push({
            type: FEATURE_TYPES[t] ?? 'incompatible',
            bit: body[e + 1]!,
            name: Buffer.from(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)).toString('utf8'),
          });
        }
        break;
      case EXT_BITMAPS: {
        if (len < 24) throw new BlockError('ECORRUPT', `bitmaps header extension is ${len} bytes (expected 24)`, path);
        h.bitmaps = {
          nbBitmaps: v.getUint32(data),
          directorySize: u64(v, data + 8, 'bitmap_directory_size', path),
          directoryOffset: u64(v, data + 16, 'bitmap_directory_offset', path),
        };
        break;
      }
      default:
        break; // unknown extensions are ignored (and preserved: we never rewrite this area)
    }
    pos = data + align(len, 8);
  }
}

function checkFeatures(h: Qcow2Header, path: string): void {
  const unknown = h.incompatibleFeatures & ~INCOMPAT_KNOWN;
  if (unknown !== 0n) {
    const names: string[] = [];
    for (let bit = 0; bit < 64; bit++) {
      if ((unknown >> BigInt(bit)) & 1n) {
        const named = h.featureNames.find((f) => f.type === 'incompatible' && f.bit === bit);
        names.push(named ? `bit ${bit} ("${named.name}")` : `bit ${bit}`);
      }
    }
    throw new BlockError('EUNSUPPORTED', `image uses unsupported incompatible feature(s): ${names.join(', ')}`, path);
  }
  if (h.incompatibleFeatures & INCOMPAT_EXTERNAL_DATA) {
    throw new BlockError('EUNSUPPORTED', 'images with an external data file are not supported', path);
  }
  if (h.incompatibleFeatures & INCOMPAT_EXTENDED_L2) {
    throw new BlockError('EUNSUPPORTED', 'images with extended L2 entries (subclusters) are not supported', path);
  }
  const typeBit = (h.incompatibleFeatures & INCOMPAT_COMPRESSION_TYPE) !== 0n;
  if (typeBit !== (h.compressionType !== 0)) {
    throw new BlockError(
      'ECORRUPT',
      `compression_type ${h.compressionType} disagrees with the compression type feature bit`,
      path,
    );
  }
  if (h.compressionType > 1)
    throw new BlockError('EUNSUPPORTED', `unknown compression type ${h.compressionType}`, path);
}

/** Where the L1 table, refcount table and snapshot table are, checked against the file. */
function checkTables(h: Qcow2Header, fileSize: number, path: string): void {
  const cs = 2 ** h.clusterBits;
  const within = (what: string, offset: number, bytes: number): void => {
    if (offset % cs !== 0)
      throw new BlockError(
        'ECORRUPT',
        `${what} offset 0x${offset.toString(16)} is not aligned to the ${cs}-byte cluster size`,
        path,
      );
    if (offset === 0) throw new BlockError('ECORRUPT', `${what} overlaps the image header`, path);
    if (offset + bytes > fileSize) {
      throw new BlockError(
        'ECORRUPT',
        `${what} at 0x${offset.toString(16)} (+${bytes}) lies beyond the end of the file (${fileSize} bytes): image truncated?`,
        path,
      );
    }
  };
  if (h.size % 512 !== 0) throw new BlockError('EFORMAT', `virtual size ${h.size} is not a multiple of 512`, path);
  const l2Entries = cs / 8;
  const needL1 = Math.ceil(h.size / (cs * l2Entries));
  if (h.l1Size * 8 > MAX_L1_BYTES)
    throw new BlockError('EUNSUPPORTED', `L1 table of ${h.l1Size} entries is too large`, path);
  if (h.l1Size < needL1)
    throw new BlockError(
      'ECORRUPT',
      `L1 table of ${h.l1Size} entries is too small for a ${h.size}-byte disk (needs ${needL1})`,
      path,
    );
  if (h.l1Size > 0) within('L1 table', h.l1TableOffset, h.l1Size * 8);
  if (h.refcountTableClusters === 0) throw new BlockError('ECORRUPT', 'refcount table is empty', path);
  if (h.refcountTableClusters * cs > MAX_REFCOUNT_TABLE_BYTES) {
    throw new BlockError('EUNSUPPORTED', `refcount table of ${h.refcountTableClusters} clusters is too large`, path);
  }
  within('refcount table', h.refcountTableOffset, h.refcountTableClusters * cs);
  if (h.nbSnapshots > MAX_SNAPSHOTS)
    throw new BlockError('ECORRUPT', `${h.nbSnapshots} snapshots is more than the ${MAX_SNAPSHOTS} allowed`, path);
  if (h.nbSnapshots > 0) within('snapshot table', h.snapshotsOffset, 40 * h.nbSnapshots);
}

/** Options of a fresh v3 header. */
export interface NewHeader {
  size: number;
  clusterBits: number;
  refcountOrder: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  backingFile?: string;
  backingFormat?: string;
}

/** Cluster 0 of a new image: header, backing format, feature table, then the backing name. */
export function encodeHeader(n: NewHeader): Uint8Array {
  const cs = 2 ** n.clusterBits;
  const buf = new Uint8Array(cs);
  const v = view(buf);
  v.setUint32(0, QCOW2_MAGIC);
  v.setUint32(4, 3);
  v.setUint32(20, n.clusterBits);
  v.setBigUint64(24, BigInt(n.size));
  v.setUint32(32, 0);
  v.setUint32(36, n.l1Size);
  v.setBigUint64(40, BigInt(n.l1TableOffset));
  v.setBigUint64(48, BigInt(n.refcountTableOffset));
  v.setUint32(56, n.refcountTableClusters);
  v.setUint32(96, n.refcountOrder);
  v.setUint32(100, WRITTEN_HEADER_LENGTH);
  let pos = WRITTEN_HEADER_LENGTH;
  const ext = (type: number, body: Uint8Array): void => {
    if (pos + 8 + align(body.length, 8) > cs)
      throw new BlockError('EFORMAT', 'header extensions do not fit in one cluster');
    v.setUint32(pos, type);
    v.setUint32(pos + 4, body.length);
    buf.set(body, pos + 8);
    pos += 8 + align(body.length, 8);
  };
  if (n.backingFormat !== undefined) ext(EXT_BACKING_FORMAT, Buffer.from(n.backingFormat, 'utf8'));
  const table = new Uint8Array(48 * KNOWN_FEATURES.length);
  KNOWN_FEATURES.forEach((f, i) => {
    table[i * 48] = FEATURE_TYPES.indexOf(f.type);
    table[i * 48 + 1] = f.bit;
    table.set(Buffer.from(f.name, 'utf8'), i * 48 + 2);
  });
  // The feature table is optional; skip it rather than fail when clusters are tiny.
  if (pos + 8 + table.length + 8 + (n.backingFile ? Buffer.byteLength(n.backingFile) : 0) <= cs)
    ext(EXT_FEATURE_TABLE, table);
  pos += 8; // END extension: type 0, length 0 (already zero)
  if (n.backingFile !== undefined) {
    const name = Buffer.from(n.backingFile, 'utf8');
    if (name.length > MAX_BACKING_NAME)
      throw new BlockError('EFORMAT', `backing file name is longer than ${MAX_BACKING_NAME} bytes`);
    if (pos + name.length > cs) throw new BlockError('EFORMAT', 'backing file name does not fit in the header cluster');
    v.setBigUint64(8, BigInt(pos));
    v.setUint32(16, name.length);
    buf.set(name, pos);
    pos += name.length;
  }
  return buf.subarray(0, pos);
}

function u64(v: DataView, at: number, what: string, path: string): number {
  const x = v.getBigUint64(at);
  if (x > BigInt(Number.MAX_SAFE_INTEGER))
    throw new BlockError('ECORRUPT', `${what} 0x${x.toString(16)} is out of range`, path);
  return Number(x);
}

export function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
