// Child process for the kill -9 test: writes generation after generation of known data to
// distinct regions of a disk, with churn elsewhere, flushing after each and reporting
// "flushed <g>" on stdout once the flush returned. It runs until killed.

import { openDisk } from '../../src/block/index.js';
import { Rng } from '../../testing/block.js';

export const REGION = 40 * 1024 + 512; // not a multiple of the cluster size: partial clusters on both ends
export const REGION_BASE = 1000;
export const SCRATCH = 48 << 20;

export function regionData(seed: number, g: number): Uint8Array {
  return new Rng(seed * 100_003 + g + 1).bytes(REGION);
}

function main(): void {
  const [path, seedText] = process.argv.slice(2);
  const seed = Number(seedText);
  const disk = openDisk(path!);
  const rng = new Rng(seed);
  for (let g = 0; ; g++) {
    disk.write(REGION_BASE + g * REGION, regionData(seed, g));
    // Churn in the scratch area: allocations, copy-on-write, zero clusters and frees.
    for (let i = 0; i < 4; i++) {
      const len = 1 + rng.int(200_000);
      const off = SCRATCH + rng.int(disk.sizeBytes - SCRATCH - len);
      const op = rng.int(4);
      if (op === 0) disk.writeZeroes!(off, len, rng.int(2) === 0);
      else if (op === 1) disk.discard!(off, len);
      else disk.write(off, rng.bytes(len));
    }
    disk.flush();
    process.stdout.write(`flushed ${g}\n`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) main();
