// Disk benchmark (`npm run bench:disk`): from inside the Linux guest, sequential 1 MiB and
// random 4 KiB read/write throughput on virtio-blk (guest/init/diskbench.c, O_DIRECT on
// /dev/vda) over a raw and a qcow2 image; with qemu-system-riscv32 installed, the same guest
// and images on QEMU in the same run, and the ratios. Writes bench/results/disk.json.
//
// Each configuration runs HN_BENCH_DISK_REPEAT times (default 3) on a fresh image; the
// median of each figure is reported. Sizes: HN_BENCH_DISK_SIZE (sequential span, default
// 64M) and HN_BENCH_DISK_OPS (random operations per phase, default 2000).
import { rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureLinuxGuest, hasQemu, runQemuGuest } from '@hypernova/guest';
import { Qcow2, VirtioBlk, openDisk, type DiskFormat } from '@hypernova/hypervisor';
import { initramfsAppend, runGuest, tempDir } from '@hypernova/hypervisor/testing';

const SIZE = process.env.HN_BENCH_DISK_SIZE ?? '64M';
const RAND_OPS = Number(process.env.HN_BENCH_DISK_OPS ?? 2000);
const REPEAT = Number(process.env.HN_BENCH_DISK_REPEAT ?? 3);
const SEED = 1;
/** The virtual disk: the sequential span plus room, so the random span is not the whole disk. */
const DISK_BYTES = 256 << 20;
const PHASES = ['seq-write', 'seq-read', 'rand-read', 'rand-write'] as const;
type Phase = (typeof PHASES)[number];

interface Figures {
  /** 10^6 bytes per second. */
  mbps: number;
  iops: number;
}
type Run = Record<Phase, Figures>;

/** The BENCH lines of diskbench, figured from the raw counts (the guest's own figures are rounded). */
function parse(log: string): Run {
  const run: Partial<Run> = {};
  for (const m of log.matchAll(/BENCH (\S+) bs=\d+ ops=(\d+) bytes=(\d+) usec=(\d+)/g)) {
    const [ops, bytes, usec] = [m[2], m[3], m[4]].map(Number) as [number, number, number];
    run[m[1] as Phase] = { mbps: bytes / usec, iops: (ops * 1e6) / usec };
  }
  if (!log.includes('BENCH-DONE') || PHASES.some((p) => !run[p])) throw new Error(`diskbench did not finish:\n${log}`);
  return run as Run;
}

/** A fresh, empty image: every run starts from unallocated clusters. */
function freshImage(path: string, format: DiskFormat): string {
  rmSync(path, { force: true });
  if (format === 'qcow2') Qcow2.create(path, { size: DISK_BYTES });
  else {
    // Sparse, as qemu-img create makes it.
    writeFileSync(path, '');
    truncateSync(path, DISK_BYTES);
  }
  return path;
}

const append = initramfsAppend(`/bin/diskbench,/dev/vda,${SIZE},${RAND_OPS},${SEED}`);

async function onHypernova(image: string): Promise<Run> {
  const disk = new VirtioBlk(openDisk(image));
  try {
    const r = await runGuest({ append, devices: [disk], timeoutMs: 900_000 });
    if (r.timedOut) throw new Error(`diskbench timed out on hypernova:\n${r.log}`);
    return parse(r.log);
  } finally {
    disk.backend.close();
  }
}

async function onQemu(kernel: string, image: string, format: DiskFormat): Promise<Run> {
  const r = await runQemuGuest({ kernel, append, drives: [{ file: image, format }], timeoutMs: 900_000 });
  if (r.timedOut || r.code !== 0) throw new Error(`diskbench failed on QEMU:\n${r.output}`);
  return parse(r.output);
}

/** Per phase and figure, the median over runs. */
function median(runs: Run[]): Run {
  const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return Object.fromEntries(
    PHASES.map((p) => [p, { mbps: mid(runs.map((r) => r[p].mbps)), iops: mid(runs.map((r) => r[p].iops)) }]),
  ) as Run;
}

const fmt = (x: number | undefined, digits: number): string => (x === undefined ? '-' : x.toFixed(digits));

function printTable(format: DiskFormat, ours: Run, qemu: Run | undefined): void {
  console.log(`\n${format}:            hypernova       QEMU    hypernova/QEMU`);
  for (const p of PHASES) {
    const [key, unit, digits] = p.startsWith('seq') ? (['mbps', 'MB/s', 1] as const) : (['iops', 'IOPS', 0] as const);
    const o = ours[p][key];
    const q = qemu?.[p][key];
    console.log(
      `  ${`${p} ${unit}`.padEnd(16)} ${fmt(o, digits).padStart(10)} ${fmt(q, digits).padStart(10)} ${fmt(q && o / q, 3).padStart(12)}`,
    );
  }
}

async function main(): Promise<void> {
  const { image: kernel } = await ensureLinuxGuest();
  const qemu = hasQemu();
  const tmp = tempDir('hypernova-bench-disk-');
  const results: Record<string, unknown> = {};
  const ratios: Record<string, Record<Phase, number>> = {};
  console.log(
    `disk: sequential ${SIZE} in 1 MiB requests, ${RAND_OPS} random 4 KiB requests per phase, O_DIRECT in the guest; median of ${REPEAT} runs`,
  );
  try {
    for (const format of ['raw', 'qcow2'] as const) {
      const path = tmp.path(`disk.${format}`);
      const oursRuns: Run[] = [];
      const theirRuns: Run[] = [];
      let allocated = 0;
      // Alternating, so a slow patch of the host hits both machines alike.
      for (let i = 0; i < REPEAT; i++) {
        oursRuns.push(await onHypernova(freshImage(path, format)));
        allocated = statSync(path).size;
        if (qemu) theirRuns.push(await onQemu(kernel, freshImage(path, format), format));
      }
      const ours = median(oursRuns);
      const theirs = qemu ? median(theirRuns) : undefined;
      printTable(format, ours, theirs);
      results[format] = { hypernova: ours, ...(theirs && { qemu: theirs }), imageBytesAfter: allocated };
      if (theirs) {
        ratios[format] = Object.fromEntries(
          PHASES.map((p) => [p, p.startsWith('seq') ? ours[p].mbps / theirs[p].mbps : ours[p].iops / theirs[p].iops]),
        ) as Record<Phase, number>;
      }
    }
  } finally {
    tmp.remove();
  }
  if (!qemu) console.log('\nqemu-system-riscv32 not installed: no comparison');
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'disk.json');
  await mkdir(dirname(out), { recursive: true });
  const config = {
    seqBytes: SIZE,
    randOps: RAND_OPS,
    repeat: REPEAT,
    diskBytes: DISK_BYTES,
    guestIo: 'O_DIRECT',
    qemuCache: 'writeback (default)',
  };
  // Other work on the host skews the figures: say how busy it was.
  const host = { cpus: cpus().length, loadAverage1m: loadavg()[0] };
  await writeFile(
    out,
    JSON.stringify({ date: new Date().toISOString(), config, host, ...results, ...(qemu && { ratios }) }, null, 2) +
      '\n',
  );
  console.log(`\nresults: ${out}`);
}

await main();
