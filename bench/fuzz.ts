// The VMM fuzzers at length (the test suite runs a short sample of each): random code in every
// mode, MMIO and virtqueue cases on the whole board, damaged qcow2 images and snapshots. Each
// seed runs in a worker thread with a wall-clock limit, so a hang inside the VMM (a loop no
// in-process check could interrupt) is caught, counted and reported with its seed.
// Prints the figures and writes bench/results/fuzz.json.
//   FUZZ_SEEDS (100), FUZZ_INSTRUCTIONS per seed (10^7), FUZZ_BOARD_CASES per seed (1000),
//   FUZZ_CORRUPT_CASES per seed (10), FUZZ_TIMEOUT_S per job (300) scale a run down or up.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import {
  CPU_FUZZ_MODES,
  fuzzBoard,
  fuzzCpu,
  FuzzFailure,
  fuzzQcow2,
  fuzzSnapshot,
  tempDir,
} from '@hypernova/hypervisor/testing';

interface Job {
  kind: 'cpu' | 'board' | 'qcow2' | 'snapshot';
  seed: number;
  size: number;
}

interface Outcome {
  instructions?: number;
  traps?: number;
  cases?: number;
  failure?: string;
  kind?: FuzzFailure['kind'];
}

const env = (name: string, dflt: number): number => Number(process.env[name] ?? dflt);

/** One job, in the worker. */
function runJob(job: Job): Outcome {
  try {
    switch (job.kind) {
      case 'cpu': {
        let instructions = 0;
        let traps = 0;
        const each = Math.ceil(job.size / CPU_FUZZ_MODES.length);
        for (const mode of CPU_FUZZ_MODES) {
          const r = fuzzCpu({ ...mode, seed: job.seed, instructions: each, hotRuns: job.seed & 1 ? 0 : undefined });
          instructions += r.instructions;
          traps += r.traps;
        }
        return { instructions, traps };
      }
      case 'board':
        return { cases: fuzzBoard(job.seed, job.size).cases };
      case 'snapshot':
        return { cases: fuzzSnapshot(job.seed, job.size).cases };
      case 'qcow2': {
        const tmp = tempDir('hypernova-fuzz-');
        try {
          return { cases: fuzzQcow2(job.seed, job.size, tmp.path).cases };
        } finally {
          tmp.remove();
        }
      }
    }
  } catch (e) {
    const kind = e instanceof FuzzFailure ? e.kind : 'crash';
    return {
      failure: `${job.kind} seed ${job.seed}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
      kind,
    };
  }
}

/** Runs a job in a worker; a job past the time limit is a hang. */
function inWorker(job: Job, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: job });
    const timer = setTimeout(() => {
      void w.terminate();
      resolve({ failure: `${job.kind} seed ${job.seed}: no answer within ${timeoutMs} ms`, kind: 'hang' });
    }, timeoutMs);
    w.once('message', (o: Outcome) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(o);
    });
    w.once('error', (e) => {
      clearTimeout(timer);
      resolve({ failure: `${job.kind} seed ${job.seed}: worker died: ${e.stack ?? e.message}`, kind: 'crash' });
    });
  });
}

async function main(): Promise<void> {
  const seeds = env('FUZZ_SEEDS', 100);
  const sizes: Record<Job['kind'], number> = {
    cpu: env('FUZZ_INSTRUCTIONS', 10_000_000),
    board: env('FUZZ_BOARD_CASES', 1000),
    qcow2: env('FUZZ_CORRUPT_CASES', 10),
    snapshot: env('FUZZ_CORRUPT_CASES', 10),
  };
  const timeoutMs = env('FUZZ_TIMEOUT_S', 300) * 1000;
  const t0 = performance.now();
  const totals = { instructions: 0, traps: 0, boardCases: 0, qcow2Cases: 0, snapshotCases: 0 };
  const failures: string[] = [];
  let crashes = 0;
  let hangs = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    for (const kind of ['cpu', 'board', 'qcow2', 'snapshot'] as const) {
      const o = await inWorker({ kind, seed, size: sizes[kind] }, timeoutMs);
      totals.instructions += o.instructions ?? 0;
      totals.traps += o.traps ?? 0;
      if (kind === 'board') totals.boardCases += o.cases ?? 0;
      if (kind === 'qcow2') totals.qcow2Cases += o.cases ?? 0;
      if (kind === 'snapshot') totals.snapshotCases += o.cases ?? 0;
      if (o.failure) {
        failures.push(o.failure);
        if (o.kind === 'hang') hangs++;
        else crashes++;
        console.log(`FAIL ${o.failure}`);
      }
    }
    if (seed % 10 === 0 || seed === seeds) {
      console.log(`seed ${seed}/${seeds}: ${totals.instructions} instructions, ${totals.boardCases} board cases`);
    }
  }
  const wallS = (performance.now() - t0) / 1000;
  const result = {
    date: new Date().toISOString(),
    seeds,
    perSeed: sizes,
    guestInstructions: totals.instructions,
    traps: totals.traps,
    mmioVirtqueueCases: totals.boardCases,
    corruptQcow2Images: totals.qcow2Cases,
    corruptSnapshots: totals.snapshotCases,
    crashes,
    hangs,
    failures,
    wallSeconds: Math.round(wallS),
  };
  console.log(
    [
      `guest instructions  ${totals.instructions.toExponential(2)} (${seeds} seeds x 6 modes, ${totals.traps} traps)`,
      `MMIO/virtqueue      ${totals.boardCases} cases`,
      `corrupt qcow2       ${totals.qcow2Cases} images`,
      `corrupt snapshots   ${totals.snapshotCases} snapshots and device states`,
      `crashes             ${crashes}`,
      `hangs               ${hangs}`,
      `wall time           ${wallS.toFixed(0)} s`,
    ].join('\n'),
  );
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'fuzz.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(result, null, 2) + '\n');
  if (crashes + hangs > 0) process.exitCode = 1;
}

if (isMainThread) await main();
else parentPort!.postMessage(runJob(workerData as Job));
