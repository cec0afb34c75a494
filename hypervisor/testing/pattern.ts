// The host's copy of the guest programs' test data (guest/init/hn.h): the pattern disktest
// writes, the file init's hn.write_file keeps rewriting, and the FNV-1a checksum the programs
// print, so tests know what to expect.

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

/** `bytes` bytes of the pattern from `offset` (multiples of 4), as disktest writes them there (hn_pattern_fill). */
export function patternBytes(seed: number, bytes: number, offset = 0): Buffer {
  const b = Buffer.alloc(bytes);
  for (let off = 0; off < bytes; off += 4) b.writeUInt32LE(patternWord(seed, (offset + off) / 4), off);
  return b;
}

/** The size of the records init's hn.write_file rewrites, one per heartbeat. */
const WRITE_FILE_RECORD = 4096;

/**
 * What init's hn.write_file=PATH,BYTES,SEED leaves in PATH once it has printed heartbeat
 * `beats`: the pattern for SEED, with record (n - 1) % records rewritten with the pattern
 * for SEED + n before heartbeat n.
 */
export function writeFileContent(bytes: number, seed: number, beats: number): Buffer {
  const content = patternBytes(seed, bytes);
  const records = Math.floor(bytes / WRITE_FILE_RECORD);
  for (let n = Math.max(1, beats - records + 1); records > 0 && n <= beats; n++) {
    const offset = ((n - 1) % records) * WRITE_FILE_RECORD;
    patternBytes(seed + n, WRITE_FILE_RECORD, offset).copy(content, offset);
  }
  return content;
}

/** FNV-1a (32-bit) as eight hex digits, as the guest programs print it. */
export function fnv1a(data: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const byte of data) h = Math.imul(h ^ byte, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}
