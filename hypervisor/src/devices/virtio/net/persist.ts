// virtio-net's snapshot section: the link state and the received frames still waiting for
// guest buffers (the one piece of virtio state that lives between notifies). The MAC is saved
// to catch a restore into a NIC configured differently.
import { expectSection, StateError, type StateSection } from '../../../state/section.js';

export const VIRTIO_NET_STATE_VERSION = 1;

export interface VirtioNetState {
  mac: string;
  linkUp: boolean;
  /** Base64 frames, oldest first. */
  rxPending: string[];
}

/**
 * Checks a section against the NIC's MAC; returns the frames decoded, those beyond the NIC's
 * `rxPendingLimit` dropped, as they would be on arrival.
 */
export function parseNetState(
  section: StateSection,
  nic: { kind: string; mac: string; rxPendingLimit: number },
): { linkUp: boolean; rxPending: Uint8Array[] } {
  const d = expectSection<VirtioNetState>(section, nic.kind, VIRTIO_NET_STATE_VERSION);
  if (d.mac !== nic.mac) throw new StateError(`virtio-net: the guest saw MAC ${d.mac}, this NIC has ${nic.mac}`);
  if (!Array.isArray(d.rxPending) || d.rxPending.some((f) => typeof f !== 'string')) {
    throw new StateError('virtio-net: bad pending frames');
  }
  return {
    linkUp: d.linkUp !== false,
    rxPending: d.rxPending.slice(0, nic.rxPendingLimit).map((f) => new Uint8Array(Buffer.from(f, 'base64'))),
  };
}
