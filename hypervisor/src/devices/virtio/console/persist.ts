// virtio-console's snapshot section: host input not yet delivered, and the console size.
import { expectSection, StateError, type StateSection } from '../../../state/section.js';

export const VIRTIO_CONSOLE_STATE_VERSION = 1;

export interface VirtioConsoleState {
  /** Base64. */
  hostQueue: string;
  cols: number;
  rows: number;
}

/** Checks a section; returns the size in range and the host input decoded. */
export function parseConsoleState(
  section: StateSection,
  kind: string,
): { hostQueue: Uint8Array; cols: number; rows: number } {
  const d = expectSection<VirtioConsoleState>(section, kind, VIRTIO_CONSOLE_STATE_VERSION);
  if (typeof d.hostQueue !== 'string') throw new StateError('virtio-console: bad host input queue');
  return {
    hostQueue: new Uint8Array(Buffer.from(d.hostQueue, 'base64')),
    cols: (d.cols >>> 0) & 0xffff,
    rows: (d.rows >>> 0) & 0xffff,
  };
}
