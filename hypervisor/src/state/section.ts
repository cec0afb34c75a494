// A device's saved state: a named, versioned section of the machine snapshot. Each device
// keeps the code that produces and consumes its section in a persist.ts beside its logic.

export interface StateSection<T = unknown> {
  name: string;
  version: number;
  data: T;
}

/**
 * What owns a section: a device, the CPU, the virtio transport. restoreState checks the whole
 * section before it changes anything, so bad state throws StateError and leaves the owner as it was.
 */
export interface Persistent {
  saveState(): StateSection;
  restoreState(section: StateSection): void;
}

export class StateError extends Error {
  override readonly name = 'StateError';
}

/** Checks a section's name and version before a device takes its data. */
export function expectSection<T>(s: StateSection, name: string, version: number): T {
  if (!isRecord(s)) throw new StateError(`device '${name}' has no state section`);
  if (s.name !== name) throw new StateError(`state section '${s.name}' given to device '${name}'`);
  if (s.version !== version) {
    throw new StateError(`device '${name}' state version ${s.version} is not supported (expected ${version})`);
  }
  // Parsers read fields of the data: a file may hold anything there.
  if (!isRecord(s.data)) throw new StateError(`device '${name}' state is not an object`);
  return s.data as T;
}

/** A JSON object (not null, not an array): what a parser may read fields of. */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Typed arrays travel as plain arrays inside JSON sections. */
export const bytesToArray = (b: Uint8Array): number[] => Array.from(b);
