// VM process benchmark (`npm run bench:vm`): how long savevm and loadvm take and how large the
// state file is for 64 and 256 MiB Linux guests (with qemu-system-riscv32 installed, QEMU's
// save to a file, `migrate "exec:cat > FILE"`, and restore, `migrate-incoming "exec:cat FILE"`,
// on the same guest in the same run); the CPU cost of dirty logging on the intmix benchmark;
// and the host CPU an idle VM process uses. Writes bench/results/vm.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QmpClient } from '@hypernova/compute-node';
import { sleep, startVm, tempDir, waitFile } from '@hypernova/compute-node/testing';
import { ensureBaremetal, ensureLinuxGuest } from '@hypernova/guest';
import { Machine } from '@hypernova/hypervisor';
import { idleCpuPercent, median } from './lib/measure.js';
import { QEMU, QEMU_CPU, qemuInstalled } from './lib/qemu.js';

const APPEND = 'console=ttyS0';
const REPEAT = 3;
/** Idle samples of 10 s per process, as bench:cpu takes. */
const IDLE_RUNS = 3;
const ms = (t0: number): number => performance.now() - t0;

interface SaveRestore {
  memoryMiB: number;
  /** Median of REPEAT; the first save of a VM can be slower (it reads RAM the guest never touched). */
  saveMs: number;
  firstSaveMs: number;
  restoreMs: number;
  fileBytes: number;
}

/** Idle CPU of a process: the median of IDLE_RUNS samples of 10 s (one sample is at the mercy of the host's other work). */
async function idleMedian(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < IDLE_RUNS; i++) samples.push(await idleCpuPercent(pid));
  return median(samples);
}

/** Ours: boot, (idle), stop, savevm ×REPEAT; loadvm ×REPEAT, each into a fresh `--incoming defer` process. */
async function oursSaveRestore(
  image: string,
  memoryMiB: number,
  dir: string,
  measureIdle: boolean,
): Promise<SaveRestore & { idleCorePercent?: number }> {
  const log = join(dir, `ours-${memoryMiB}.log`);
  const file = join(dir, `ours-${memoryMiB}.state`);
  const base = ['--kernel', image, '--append', APPEND, '--memory', String(memoryMiB), '--console', 'none'];
  const src = startVm([...base, '--serial-log', log], { control: join(dir, `src-${memoryMiB}.sock`) });
  const q = await src.qmp();
  await waitFile(log, (t) => t.includes('heartbeat 1'), 300_000, src);
  // Idle: the guest sleeps between heartbeats; measured once boot's after-effects have settled.
  let idleCorePercent: number | undefined;
  if (measureIdle) {
    await sleep(2000);
    idleCorePercent = await idleMedian(src.child.pid!);
  }
  await q.execute('stop');
  const saves: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    await q.execute('savevm', { path: file });
    saves.push(ms(t0));
  }
  await q.execute('quit');
  await src.exited;

  const restores: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const dst = startVm([...base, '--serial-log', join(dir, `dst-${memoryMiB}.log`), '--incoming', 'defer'], {
      control: join(dir, `dst-${memoryMiB}.sock`),
    });
    const qd = await dst.qmp();
    const t0 = performance.now();
    await qd.execute('loadvm', { path: file });
    restores.push(ms(t0));
    await qd.execute('quit');
    await dst.exited;
  }
  return {
    memoryMiB,
    saveMs: median(saves),
    firstSaveMs: saves[0]!,
    restoreMs: median(restores),
    fileBytes: statSync(file).size,
    idleCorePercent,
  };
}

function startQemu(args: string[], sock: string): ChildProcess {
  return spawn(QEMU, [...args, '-qmp', `unix:${sock},server=on,wait=off`], { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function qemuQmp(sock: string): Promise<QmpClient> {
  const q = await QmpClient.connectWhenReady(sock, { timeoutMs: 30_000 });
  await q.execute('qmp_capabilities');
  return q;
}

/** Asks QEMU to quit; the process is killed next whatever it answers. */
async function quitQemu(q: QmpClient): Promise<void> {
  await q.execute('quit').catch((err: unknown) => console.warn(`QEMU quit: ${String(err)}`));
}

async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(2);
}

/** QEMU: the same guest and steps, with QEMU's migration-to-file as savevm/loadvm. */
async function qemuSaveRestore(
  image: string,
  fw: string,
  memoryMiB: number,
  dir: string,
  measureIdle: boolean,
): Promise<SaveRestore & { idleCorePercent?: number }> {
  const log = join(dir, `qemu-${memoryMiB}.log`);
  const file = join(dir, `qemu-${memoryMiB}.state`);
  const base = [
    '-M',
    'virt',
    '-cpu',
    QEMU_CPU,
    '-m',
    `${memoryMiB}M`,
    '-display',
    'none',
    '-monitor',
    'none',
    '-bios',
    fw,
    '-kernel',
    image,
    '-append',
    APPEND,
  ];
  const srcSock = join(dir, `qemu-src-${memoryMiB}.sock`);
  const src = startQemu([...base, '-serial', `file:${log}`], srcSock);
  const q = await qemuQmp(srcSock);
  await waitFile(log, (t) => t.includes('heartbeat 1'), 60_000);
  let idleCorePercent: number | undefined;
  if (measureIdle) {
    await sleep(2000);
    idleCorePercent = await idleMedian(src.pid!);
  }
  await q.execute('stop');
  const saves: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    if (i > 0) {
      // QEMU refuses to migrate a VM that a migration left paused: run it a moment first.
      await q.execute('cont');
      await q.execute('stop');
    }
    const t0 = performance.now();
    await q.execute('migrate', { uri: `exec:cat > ${file}` });
    await until(async () => {
      const s = await q.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (s.status === 'failed') throw new Error(`QEMU migrate failed: ${s['error-desc']}`);
      return s.status === 'completed';
    });
    saves.push(ms(t0));
  }
  await quitQemu(q);
  src.kill();

  const restores: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const dstSock = join(dir, `qemu-dst-${memoryMiB}.sock`);
    const dst = startQemu(
      [...base, '-serial', `file:${join(dir, `qemu-dst-${memoryMiB}.log`)}`, '-incoming', 'defer'],
      dstSock,
    );
    const qd = await qemuQmp(dstSock);
    const t0 = performance.now();
    await qd.execute('migrate-incoming', { uri: `exec:cat ${file}` });
    await until(async () => (await qd.execute<{ status: string }>('query-status')).status !== 'inmigrate');
    restores.push(ms(t0));
    await quitQemu(qd);
    dst.kill();
    await new Promise((r) => dst.once('exit', r));
  }
  return {
    memoryMiB,
    saveMs: median(saves),
    firstSaveMs: saves[0]!,
    restoreMs: median(restores),
    fileBytes: statSync(file).size,
    idleCorePercent,
  };
}

/** CPU ms of one intmix-small run; with `dirtyFetchMs`, dirty logging on and fetched that often. */
async function intmixCpuMs(elf: Uint8Array, dirtyFetchMs: number | undefined): Promise<number> {
  let log = '';
  const m = new Machine(
    { kernel: elf, bios: 'none' },
    { config: { memoryMiB: 64 }, console: (b) => (log += Buffer.from(b).toString('latin1')) },
  );
  let timer: NodeJS.Timeout | undefined;
  if (dirtyFetchMs !== undefined) {
    m.ram.startDirtyLog();
    timer = setInterval(() => m.ram.fetchDirtyLog(), dirtyFetchMs);
  }
  const u0 = process.cpuUsage();
  await m.run();
  const u = process.cpuUsage(u0);
  clearInterval(timer);
  if (!/CHECK OK/.test(log)) throw new Error(`intmix did not check out:\n${log}`);
  return (u.user + u.system) / 1000;
}

async function main(): Promise<void> {
  const { image } = await ensureLinuxGuest();
  const bm = await ensureBaremetal();
  const tmp = tempDir('bench');
  // The host is shared (builds, other benchmarks): its load says how far to trust the figures.
  const results: Record<string, unknown> = { date: new Date().toISOString(), hostLoadAverage: loadavg()[0] };
  try {
    const withQemu = await qemuInstalled();
    const saveRestore: Record<string, unknown>[] = [];
    for (const mib of [64, 256]) {
      const ours = await oursSaveRestore(image, mib, tmp.dir, mib === 64);
      console.log(
        `hypernova ${mib} MiB: savevm ${ours.saveMs.toFixed(0)} ms (first ${ours.firstSaveMs.toFixed(0)} ms), loadvm ${ours.restoreMs.toFixed(0)} ms, file ${(ours.fileBytes / 2 ** 20).toFixed(1)} MiB`,
      );
      const row: Record<string, unknown> = { memoryMiB: mib, hypernova: ours };
      if (withQemu) {
        const qemu = await qemuSaveRestore(image, join(bm, 'fw.elf'), mib, tmp.dir, mib === 64);
        console.log(
          `QEMU      ${mib} MiB: save ${qemu.saveMs.toFixed(0)} ms (first ${qemu.firstSaveMs.toFixed(0)} ms), restore ${qemu.restoreMs.toFixed(0)} ms, file ${(qemu.fileBytes / 2 ** 20).toFixed(1)} MiB`,
        );
        row.qemu = qemu;
        row.ratios = {
          save: ours.saveMs / qemu.saveMs,
          restore: ours.restoreMs / qemu.restoreMs,
          fileBytes: ours.fileBytes / qemu.fileBytes,
        };
      }
      saveRestore.push(row);
    }
    results.saveRestore = saveRestore;
    const idle = saveRestore[0] as { hypernova: { idleCorePercent: number }; qemu?: { idleCorePercent: number } };
    results.idleVm = {
      seconds: 10,
      samples: IDLE_RUNS,
      memoryMiB: 64,
      hypernovaCorePercent: idle.hypernova.idleCorePercent,
      qemuCorePercent: idle.qemu?.idleCorePercent,
    };
    console.log(
      `idle Linux VM process (median of ${IDLE_RUNS} × 10 s): ${idle.hypernova.idleCorePercent.toFixed(2)} % of a core` +
        (idle.qemu ? ` (QEMU ${idle.qemu.idleCorePercent.toFixed(2)} %)` : ''),
    );

    // Dirty logging: alternate runs with and without, so drift in the host hits both alike.
    const elf = readFileSync(join(bm, 'intmix-small.elf'));
    await intmixCpuMs(elf, undefined); // warm up the host JIT
    const off: number[] = [];
    const on: number[] = [];
    for (let i = 0; i < 7; i++) {
      off.push(await intmixCpuMs(elf, undefined));
      on.push(await intmixCpuMs(elf, 50));
    }
    const slowdown = median(on) / median(off) - 1;
    results.dirtyLog = {
      program: 'intmix-small.elf',
      runs: off.length,
      fetchEveryMs: 50,
      cpuMsOff: median(off),
      cpuMsOn: median(on),
      slowdownPercent: slowdown * 100,
    };
    console.log(
      `intmix-small: ${median(off).toFixed(0)} ms CPU without dirty logging, ${median(on).toFixed(0)} ms with (fetched every 50 ms): ${(slowdown * 100).toFixed(1)} % slower`,
    );
  } finally {
    tmp.remove();
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'vm.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`results: ${out}`);
}

await main();
