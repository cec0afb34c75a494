// The internal snapshot table. We never create, apply or delete snapshots; we read the table
// so that their L1 tables and the table itself are known metadata (never overwritten, and
// counted by `check`), and so that writes copy-on-write the clusters snapshots share.

import { BlockError } from '../backend.js';
import type { HostFile } from '../file.js';
import { MAX_L1_BYTES, view, type Qcow2Header } from './header.js';

export interface Snapshot {
  id: string;
  name: string;
  l1Offset: number;
  l1Size: number;
  vmStateSize: number;
  dateSec: number;
  dateNsec: number;
  vmClockNs: bigint;
  /** Instruction count at the snapshot, or -1 when not recorded. */
  icount: number;
}

export interface SnapshotTable {
  snapshots: Snapshot[];
  /** Bytes the table occupies from header.snapshotsOffset. */
  bytes: number;
}

export function readSnapshots(file: HostFile, h: Qcow2Header): SnapshotTable {
  const cs = 2 ** h.clusterBits;
  const snapshots: Snapshot[] = [];
  let pos = h.snapshotsOffset;
  const fixed = new Uint8Array(40);
  const v = view(fixed);
  for (let i = 0; i < h.nbSnapshots; i++) {
    file.readExact(pos, fixed, `snapshot table entry ${i}`);
    const l1Offset = Number(v.getBigUint64(0));
    const l1Size = v.getUint32(8);
    const idLen = v.getUint16(12);
    const nameLen = v.getUint16(14);
    const extraLen = v.getUint32(36);
    if (extraLen > 1024)
      throw new BlockError('ECORRUPT', `snapshot ${i} has ${extraLen} bytes of extra data (at most 1024)`, file.path);
    const rest = new Uint8Array(extraLen + idLen + nameLen);
    file.readExact(pos + 40, rest, `snapshot table entry ${i}`);
    let vmStateSize = v.getUint32(32);
    if (extraLen >= 8) vmStateSize = Number(view(rest).getBigUint64(0));
    const text = (from: number, len: number): string => Buffer.from(rest.subarray(from, from + len)).toString('utf8');
    const s: Snapshot = {
      l1Offset,
      l1Size,
      id: text(extraLen, idLen),
      name: text(extraLen + idLen, nameLen),
      vmStateSize,
      dateSec: v.getUint32(16),
      dateNsec: v.getUint32(20),
      vmClockNs: v.getBigUint64(24),
      icount: extraLen >= 24 ? Number(view(rest).getBigInt64(16)) : -1,
    };
    if (l1Offset % cs !== 0)
      throw new BlockError(
        'ECORRUPT',
        `snapshot "${s.name}" L1 table offset 0x${l1Offset.toString(16)} is not cluster aligned`,
        file.path,
      );
    if (l1Size * 8 > MAX_L1_BYTES)
      throw new BlockError('ECORRUPT', `snapshot "${s.name}" L1 table of ${l1Size} entries is too large`, file.path);
    if (l1Size > 0 && (l1Offset === 0 || l1Offset + l1Size * 8 > file.size)) {
      throw new BlockError(
        'ECORRUPT',
        `snapshot "${s.name}" L1 table at 0x${l1Offset.toString(16)} lies outside the file`,
        file.path,
      );
    }
    snapshots.push(s);
    pos += Math.ceil((40 + rest.length) / 8) * 8;
  }
  return { snapshots, bytes: pos - h.snapshotsOffset };
}
