// The PLIC's snapshot section: priorities, gateway state (levels, pending, claimed) and the
// per-context enables and thresholds. The context outputs are derived and re-driven on restore.
import { expectSection, StateError, type StateSection } from '../../state/section.js';

export const PLIC_STATE_VERSION = 1;

export interface PlicState {
  priority: number[];
  pending: number[];
  claimed: number[];
  level: number[];
  /** enable[ctx] = one word per 32 sources */
  enable: number[][];
  threshold: number[];
}

/** The PLIC a section must fit. */
export interface PlicShape {
  name: string;
  sources: number;
  contexts: number;
}

/** Checks a section against the PLIC's shape; returns its state. */
export function parsePlicState(section: StateSection, plic: PlicShape): PlicState {
  const d = expectSection<PlicState>(section, plic.name, PLIC_STATE_VERSION);
  const words = plic.sources / 32;
  const shapeOk =
    isArrayOf(d.priority, plic.sources) &&
    isArrayOf(d.pending, words) &&
    isArrayOf(d.claimed, words) &&
    isArrayOf(d.level, words) &&
    isArrayOf(d.threshold, plic.contexts) &&
    isArrayOf(d.enable, plic.contexts) &&
    d.enable.every((e) => isArrayOf(e, words));
  if (!shapeOk) {
    throw new StateError(`plic state does not match a PLIC with ${plic.sources} sources and ${plic.contexts} contexts`);
  }
  return d;
}

const isArrayOf = (a: unknown, length: number): a is unknown[] => Array.isArray(a) && a.length === length;
