// virtio-blk's snapshot section. Requests complete within the notify that submits them, so
// there is no queue of requests to save: only what the guest saw of the disk, which must match
// the disk the restored VM is given (migration reopens the same image on the other side).
import { expectSection, StateError, type StateSection } from '../../../state/section.js';

export const VIRTIO_BLK_STATE_VERSION = 1;

export interface VirtioBlkState {
  /** Sectors of 512 bytes. */
  capacity: number;
  readOnly: boolean;
}

/** Checks a section against the disk the device now has (`disk`: what it shows the guest). */
export function parseBlkState(section: StateSection, kind: string, disk: VirtioBlkState): VirtioBlkState {
  const d = expectSection<VirtioBlkState>(section, kind, VIRTIO_BLK_STATE_VERSION);
  if (d.capacity !== disk.capacity) {
    throw new StateError(`virtio-blk: the guest saw ${d.capacity} sectors, the disk now has ${disk.capacity}`);
  }
  if (d.readOnly !== disk.readOnly) {
    throw new StateError(`virtio-blk: the guest saw a ${d.readOnly ? 'read-only' : 'writable'} disk`);
  }
  return d;
}
