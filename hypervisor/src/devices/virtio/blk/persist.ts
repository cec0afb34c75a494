// virtio-blk's snapshot section. Requests complete within the notify that submits them, so
// there is no queue of requests to save: only what the guest saw of the disk, which must match
// the disk the restored VM is given (migration reopens the same image on the other side).
import { expectSection, StateError, type StateSection } from '../../../state/section.js';
import type { VirtioBlk } from './blk.js';

export const VIRTIO_BLK_STATE_VERSION = 1;

export interface VirtioBlkState {
  /** Sectors of 512 bytes. */
  capacity: number;
  readOnly: boolean;
}

export function saveBlk(dev: VirtioBlk): StateSection<VirtioBlkState> {
  return {
    name: dev.kind,
    version: VIRTIO_BLK_STATE_VERSION,
    data: { capacity: dev.capacity, readOnly: dev.backend.readOnly },
  };
}

export function restoreBlk(dev: VirtioBlk, section: StateSection): void {
  const d = expectSection<VirtioBlkState>(section, dev.kind, VIRTIO_BLK_STATE_VERSION);
  if (d.capacity !== dev.capacity) {
    throw new StateError(`virtio-blk: the guest saw ${d.capacity} sectors, the disk now has ${dev.capacity}`);
  }
  if (d.readOnly !== dev.backend.readOnly) {
    throw new StateError(`virtio-blk: the guest saw a ${d.readOnly ? 'read-only' : 'writable'} disk`);
  }
}
