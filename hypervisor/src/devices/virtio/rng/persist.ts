// virtio-rng's snapshot section: the device has no state of its own (requests complete at
// once); the section exists so a snapshot says what was plugged and versions stay checked.
import { expectSection, type StateSection } from '../../../state/section.js';

export const VIRTIO_RNG_STATE_VERSION = 1;

export type VirtioRngState = Record<string, never>;

export function parseRngState(section: StateSection, kind: string): VirtioRngState {
  return expectSection<VirtioRngState>(section, kind, VIRTIO_RNG_STATE_VERSION);
}
