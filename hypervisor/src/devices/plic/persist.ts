// The PLIC's snapshot section: priorities, gateway state (levels, pending, claimed) and the
// per-context enables and thresholds. The context outputs are derived and re-driven on restore.
import { expectSection, StateError, type StateSection } from '../../state/section.js';
import { PLIC_NUM_SOURCES, PLIC_WORDS, type Plic } from './plic.js';

export const PLIC_STATE_VERSION = 1;

export interface PlicState {
  priority: number[];
  pending: number[];
  claimed: number[];
  level: number[];
  /** enable[ctx] = PLIC_WORDS words */
  enable: number[][];
  threshold: number[];
}

export function savePlic(dev: Plic): StateSection<PlicState> {
  return {
    name: dev.name,
    version: PLIC_STATE_VERSION,
    data: {
      priority: Array.from(dev.priority),
      pending: Array.from(dev.pending),
      claimed: Array.from(dev.claimed),
      level: Array.from(dev.level),
      enable: dev.enable.map((e) => Array.from(e)),
      threshold: Array.from(dev.threshold),
    },
  };
}

export function restorePlic(dev: Plic, section: StateSection): void {
  const d = expectSection<PlicState>(section, dev.name, PLIC_STATE_VERSION);
  const nctx = dev.contexts.length;
  const shapeOk =
    isArrayOf(d.priority, PLIC_NUM_SOURCES) &&
    isArrayOf(d.pending, PLIC_WORDS) &&
    isArrayOf(d.claimed, PLIC_WORDS) &&
    isArrayOf(d.level, PLIC_WORDS) &&
    isArrayOf(d.threshold, nctx) &&
    isArrayOf(d.enable, nctx) &&
    d.enable.every((e) => isArrayOf(e, PLIC_WORDS));
  if (!shapeOk)
    throw new StateError(`plic state does not match a PLIC with ${PLIC_NUM_SOURCES} sources and ${nctx} contexts`);
  dev.priority.set(d.priority);
  dev.pending.set(d.pending);
  dev.claimed.set(d.claimed);
  dev.level.set(d.level);
  d.enable.forEach((e, ctx) => dev.enable[ctx]!.set(e));
  dev.threshold.set(d.threshold);
  dev.resync();
}

const isArrayOf = (a: unknown, length: number): a is unknown[] => Array.isArray(a) && a.length === length;
