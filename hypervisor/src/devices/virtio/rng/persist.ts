// virtio-rng's snapshot section: the device has no state of its own (requests complete at
// once); the section exists so a snapshot says what was plugged and versions stay checked.
import { expectSection, type StateSection } from '../../../state/section.js';
import type { VirtioRng } from './rng.js';

export const VIRTIO_RNG_STATE_VERSION = 1;

export type VirtioRngState = Record<string, never>;

export function saveRng(dev: VirtioRng): StateSection<VirtioRngState> {
  return { name: dev.kind, version: VIRTIO_RNG_STATE_VERSION, data: {} };
}

export function restoreRng(dev: VirtioRng, section: StateSection): void {
  expectSection<VirtioRngState>(section, dev.kind, VIRTIO_RNG_STATE_VERSION);
}
