// The host's copy of the guest programs' test data (guest/init/hn.h): the pattern disktest
// writes and the FNV-1a checksum the programs print, so tests know what to expect.

/** Word i of the pattern for `seed`: hn_pattern_word (murmur3's finaliser over seed ^ i * golden ratio). */
export function patternWord(seed: number, i: number): number {
  let x = (seed ^ Math.imul(i, 0x9e3779b9)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** `bytes` bytes of the pattern from offset 0 (a multiple of 4), as disktest writes them. */
export function patternBytes(seed: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let off = 0; off < bytes; off += 4) b.writeUInt32LE(patternWord(seed, off / 4), off);
  return b;
}

/** FNV-1a (32-bit) as eight hex digits, as the guest programs print it. */
export function fnv1a(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const byte of data) h = Math.imul(h ^ byte, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
