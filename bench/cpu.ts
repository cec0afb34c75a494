// CPU benchmark: the self-checking integer benchmark (guest/baremetal intmix) in MIPS of host
// CPU time; Linux boot time to BOOT-OK as a user sees it (from starting the process: `hypernova
// vm run`, or QEMU); and the host CPU an idle VM process costs. With qemu-system-riscv32
// installed, the same runs on QEMU in the same session, and the ratios. Figures are medians of
// several runs (the hosts are shared and noisy). Writes bench/results/cpu.json.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI } from '@hypernova/compute-node/testing';
import { ensureBaremetal, ensureLinuxGuest } from '@hypernova/guest';
import { Machine } from '@hypernova/hypervisor';
import { idleCpuPercent, median } from './lib/measure.js';
import { QEMU, QEMU_CPU, qemuInstalled } from './lib/qemu.js';

const INTMIX_RUNS = 3;
const BOOT_RUNS = 5;
const IDLE_RUNS = 3;
const IDLE_SECONDS = 10;
const APPEND = 'console=ttyS0 quiet';
const MEMORY_MIB = 128;

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** intmix on our machine in this process: retired instructions and CPU ms. */
async function intmixOurs(elf: Uint8Array): Promise<{ instret: number; cpuMs: number }> {
  let log = '';
  const cpu0 = cpuMs();
  const m = new Machine(
    { kernel: elf, bios: 'none' },
    { config: { memoryMiB: MEMORY_MIB }, console: (b) => (log += Buffer.from(b).toString('latin1')) },
  );
  await m.run();
  return { instret: instretOf(log), cpuMs: cpuMs() - cpu0 };
}

const instretOf = (log: string): number => {
  const m = /INSTRET (\d+)/.exec(log);
  if (!m || !/CHECK OK/.test(log)) throw new Error(`benchmark did not check out:\n${log}`);
  return Number(m[1]);
};

/**
 * Starts `cmd` and waits for `text` on its output: the wall ms from the spawn to it. Then
 * `whileRunning` (if any) gets the pid before the process is killed.
 */
function runUntil(
  cmd: string,
  args: string[],
  text: string,
  whileRunning?: (pid: number) => Promise<number>,
): Promise<{ wallMs: number; figure?: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let done = false;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (done || !out.includes(text)) return;
      done = true;
      const wallMs = performance.now() - t0;
      void (whileRunning ? whileRunning(p.pid!) : Promise.resolve(undefined)).then(
        (figure) => {
          p.kill('SIGKILL');
          resolve({ wallMs, figure });
        },
        (e: Error) => {
          p.kill('SIGKILL');
          reject(e);
        },
      );
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (!done)
        reject(new Error(`${cmd} ended (${code ?? signal}) before printing '${text}':\n${out.slice(-2000)}\n${err}`));
    });
  });
}

/** Idle: after the first heartbeat the init sleeps between beats; measured once boot's after-effects have settled. */
const idleFigure = async (pid: number): Promise<number> => {
  await new Promise((r) => setTimeout(r, 2000));
  return idleCpuPercent(pid, IDLE_SECONDS);
};

async function repeat(n: number, f: () => Promise<number>): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  return xs;
}

/** QEMU's virt board as ours is set up (CPU, memory, no display) with `bios` as its firmware. */
function qemuBoard(bios: string): string[] {
  return ['-M', 'virt', '-cpu', QEMU_CPU, '-m', `${MEMORY_MIB}M`, '-nographic', '-bios', bios];
}

/** CPU ms QEMU uses to run intmix to its end (bash's `time` reports the child's CPU time). */
function intmixQemuCpuMs(elf: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = [...qemuBoard('none'), '-kernel', elf];
    const p = spawn('bash', ['-c', 'TIMEFORMAT="CPU %U %S"; time "$@" >/dev/null 2>&1', 'bash', QEMU, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', () => {
      const m = /CPU ([\d.]+) ([\d.]+)/.exec(err);
      if (m) resolve((Number(m[1]) + Number(m[2])) * 1000);
      else reject(new Error(`no CPU time from QEMU: ${err}`));
    });
  });
}

const range = (xs: number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];

async function main(): Promise<void> {
  const bm = await ensureBaremetal();
  const intmixElf = join(bm, 'intmix.elf');
  const fw = join(bm, 'fw.elf');
  const { image } = await ensureLinuxGuest();
  const results: Record<string, unknown> = { date: new Date().toISOString(), hostLoadAverage: loadavg()[0] };

  const intmix = [];
  for (let i = 0; i < INTMIX_RUNS; i++) intmix.push(await intmixOurs(readFileSync(intmixElf)));
  const instret = intmix[0]!.instret;
  const oursMips = median(intmix.map((r) => r.instret / r.cpuMs / 1000));
  console.log(`intmix on hypernova: ${instret} instructions, ${oursMips.toFixed(0)} MIPS (median of ${INTMIX_RUNS})`);

  const vm = [CLI, 'vm', 'run', '--kernel', image, '--append', APPEND, '--memory', String(MEMORY_MIB)];
  const boots = await repeat(BOOT_RUNS, async () => (await runUntil(process.execPath, vm, 'BOOT-OK')).wallMs);
  console.log(
    `Linux to BOOT-OK on hypernova, from process start: ${(median(boots) / 1000).toFixed(2)} s wall (median of ${BOOT_RUNS}; ${range(
      boots,
    )
      .map((x) => (x / 1000).toFixed(2))
      .join('-')})`,
  );
  const idles = await repeat(
    IDLE_RUNS,
    async () => (await runUntil(process.execPath, vm, 'heartbeat 1', idleFigure)).figure!,
  );
  console.log(
    `idle VM process: ${median(idles).toFixed(2)} % of a core (median of ${IDLE_RUNS} × ${IDLE_SECONDS} s; ${range(
      idles,
    )
      .map((x) => x.toFixed(2))
      .join('-')})`,
  );
  results.hypernova = {
    intmixInstructions: instret,
    mips: oursMips,
    bootWallS: median(boots) / 1000,
    bootWallRangeS: range(boots).map((x) => x / 1000),
    idleCorePercent: median(idles),
    idleCorePercentRange: range(idles),
  };

  if (await qemuInstalled()) {
    const qIntmix = await repeat(INTMIX_RUNS, () => intmixQemuCpuMs(intmixElf));
    const qMips = instret / median(qIntmix) / 1000;
    const qemuVm = [...qemuBoard(fw), '-append', APPEND, '-kernel', image];
    const qBoots = await repeat(BOOT_RUNS, async () => (await runUntil(QEMU, qemuVm, 'BOOT-OK')).wallMs);
    const qIdles = await repeat(
      IDLE_RUNS,
      async () => (await runUntil(QEMU, qemuVm, 'heartbeat 1', idleFigure)).figure!,
    );
    console.log(`intmix on QEMU: ${qMips.toFixed(0)} MIPS; hypernova/QEMU = ${(oursMips / qMips).toFixed(3)}`);
    console.log(
      `Linux to BOOT-OK on QEMU: ${(median(qBoots) / 1000).toFixed(2)} s wall; hypernova/QEMU = ${(median(boots) / median(qBoots)).toFixed(2)}x the time`,
    );
    console.log(`idle QEMU process: ${median(qIdles).toFixed(2)} % of a core`);
    results.qemu = { mips: qMips, bootWallS: median(qBoots) / 1000, idleCorePercent: median(qIdles) };
    results.ratios = {
      mips: oursMips / qMips,
      bootTime: median(boots) / median(qBoots),
      idleCpu: median(idles) / median(qIdles),
    };
  } else {
    console.log(`${QEMU} not installed: no comparison`);
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'cpu.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`results: ${out}`);
}

await main();
