// virtio-net's snapshot section: the link state and the received frames still waiting for
// guest buffers (the one piece of virtio state that lives between notifies). The MAC is saved
// to catch a restore into a NIC configured differently.
import { expectSection, StateError, type StateSection } from '../../../state/section.js';
import { formatMac } from './backend.js';
import type { VirtioNet } from './net.js';

export const VIRTIO_NET_STATE_VERSION = 1;

export interface VirtioNetState {
  mac: string;
  linkUp: boolean;
  /** Base64 frames, oldest first. */
  rxPending: string[];
}

export function saveNet(dev: VirtioNet): StateSection<VirtioNetState> {
  return {
    name: dev.kind,
    version: VIRTIO_NET_STATE_VERSION,
    data: {
      mac: formatMac(dev.mac),
      linkUp: dev.linkUp,
      rxPending: dev.rxPending.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).toString('base64')),
    },
  };
}

export function restoreNet(dev: VirtioNet, section: StateSection): void {
  const d = expectSection<VirtioNetState>(section, dev.kind, VIRTIO_NET_STATE_VERSION);
  if (d.mac !== formatMac(dev.mac))
    throw new StateError(`virtio-net: the guest saw MAC ${d.mac}, this NIC has ${formatMac(dev.mac)}`);
  if (!Array.isArray(d.rxPending) || d.rxPending.some((f) => typeof f !== 'string')) {
    throw new StateError('virtio-net: bad pending frames');
  }
  dev.linkUp = d.linkUp !== false;
  // Frames beyond this NIC's limit are dropped, as they would be on arrival.
  dev.rxPending = d.rxPending.slice(0, dev.rxPendingLimit).map((f) => new Uint8Array(Buffer.from(f, 'base64')));
}
