// virtio-input's snapshot section: the driver's current config question (select, subsel: a
// snapshot may fall between the driver writing them and reading the answer), the events still
// waiting for guest buffers, and the LED state. The name is saved to catch a restore into a
// different kind of input device.
import { expectSection, StateError, type StateSection } from '../../../state/section.js';
import type { InputEvent } from './input.js';

export const VIRTIO_INPUT_STATE_VERSION = 1;

export interface VirtioInputState {
  name: string;
  select: number;
  subsel: number;
  /** [type, code, value] per event, oldest first. */
  pending: [number, number, number][];
  leds: number;
}

/** Checks a section against the device's name and event limit; returns its values in range. */
export function parseInputState(
  section: StateSection,
  dev: { kind: string; name: string; pendingLimit: number },
): { select: number; subsel: number; pending: InputEvent[]; leds: number } {
  const d = expectSection<VirtioInputState>(section, dev.kind, VIRTIO_INPUT_STATE_VERSION);
  if (d.name !== dev.name)
    throw new StateError(`virtio-input: the guest saw '${String(d.name)}', this device is '${dev.name}'`);
  const isEvent = (e: unknown): e is [number, number, number] =>
    Array.isArray(e) && e.length === 3 && e.every((x) => Number.isInteger(x));
  if (!Array.isArray(d.pending) || d.pending.length > dev.pendingLimit || !d.pending.every(isEvent)) {
    throw new StateError('virtio-input: bad pending events');
  }
  return {
    select: (d.select >>> 0) & 0xff,
    subsel: (d.subsel >>> 0) & 0xff,
    pending: d.pending.map(([type, code, value]) => ({ type: type & 0xffff, code: code & 0xffff, value: value | 0 })),
    leds: d.leds >>> 0,
  };
}
