// virtio-console's snapshot section: host input not yet delivered, and the console size.
import { expectSection, StateError, type StateSection } from '../../../state/section.js';
import type { VirtioConsole } from './console.js';

export const VIRTIO_CONSOLE_STATE_VERSION = 1;

export interface VirtioConsoleState {
  /** Base64. */
  hostQueue: string;
  cols: number;
  rows: number;
}

export function saveConsole(dev: VirtioConsole): StateSection<VirtioConsoleState> {
  return {
    name: dev.kind,
    version: VIRTIO_CONSOLE_STATE_VERSION,
    data: { hostQueue: Buffer.from(dev.hostQueue.toArray()).toString('base64'), cols: dev.cols, rows: dev.rows },
  };
}

export function restoreConsole(dev: VirtioConsole, section: StateSection): void {
  const d = expectSection<VirtioConsoleState>(section, dev.kind, VIRTIO_CONSOLE_STATE_VERSION);
  if (typeof d.hostQueue !== 'string') throw new StateError('virtio-console: bad host input queue');
  dev.hostQueue.clear();
  dev.hostQueue.push(new Uint8Array(Buffer.from(d.hostQueue, 'base64')));
  dev.cols = (d.cols >>> 0) & 0xffff;
  dev.rows = (d.rows >>> 0) & 0xffff;
}
