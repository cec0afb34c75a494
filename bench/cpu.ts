// CPU benchmark: the self-checking integer benchmark (guest/baremetal intmix) in MIPS of host
// CPU time, Linux boot time to BOOT-OK, and the host CPU an idle VM costs; with
// qemu-system-riscv32 installed, the same runs on QEMU in the same session, and the ratios.
// Writes bench/results/cpu.json.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBaremetal, ensureLinuxGuest } from '@hypernova/guest';
import { Machine, type BiosChoice } from '@hypernova/hypervisor';

const QEMU = 'qemu-system-riscv32';
const QEMU_CPU = 'rv32,c=false,f=false,d=false,h=false,sstc=false,zba=false,zbb=false,zbc=false,zbs=false';

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Runs a guest on our machine until `stop(log)` or power-off; wall and CPU ms from start. */
async function runOurs(kernel: Uint8Array, bios: BiosChoice, append: string | undefined, stop: (log: string) => boolean) {
  let log = '';
  const wall0 = performance.now();
  const cpu0 = cpuMs();
  let at: { wallMs: number; cpuMs: number } | undefined;
  const m: Machine = new Machine({ kernel, bios, append }, {
    config: { memoryMiB: 128 },
    console: (b) => {
      log += Buffer.from(b).toString('latin1');
      if (!at && stop(log)) {
        at = { wallMs: performance.now() - wall0, cpuMs: cpuMs() - cpu0 };
        m.powerOffNow();
      }
    },
  });
  await m.run();
  at ??= { wallMs: performance.now() - wall0, cpuMs: cpuMs() - cpu0 };
  return { log, ...at, machine: m };
}

/** Runs QEMU until `stop(log)` or exit; wall ms to that point and the process's CPU ms. */
function runQemu(args: string[], stop: (log: string) => boolean): Promise<{ log: string; wallMs: number; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    // bash's `time` reports the child's CPU time when it ends.
    const p = spawn('bash', ['-c', 'TIMEFORMAT="CPU %U %S"; time "$@" 2>&1', 'bash', QEMU, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    let wallMs = 0;
    const t0 = performance.now();
    p.stdout.on('data', (d: Buffer) => {
      log += d.toString('latin1');
      if (!wallMs && stop(log)) {
        wallMs = performance.now() - t0;
        // Only our QEMU: the child of this bash.
        spawn('pkill', ['-P', String(p.pid), '-f', QEMU]);
      }
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', () => {
      const m = /CPU ([\d.]+) ([\d.]+)/.exec(err);
      resolve({ log, wallMs: wallMs || performance.now() - t0, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN });
    });
  });
}

async function qemuInstalled(): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn(QEMU, ['--version'], { stdio: 'ignore' });
    p.on('error', () => resolve(false));
    p.on('close', (code) => resolve(code === 0));
  });
}

const instretOf = (log: string): number => {
  const m = /INSTRET (\d+)/.exec(log);
  if (!m || !/CHECK OK/.test(log)) throw new Error(`benchmark did not check out:\n${log}`);
  return Number(m[1]);
};

async function main(): Promise<void> {
  const bm = await ensureBaremetal();
  const intmix = readFileSync(join(bm, 'intmix.elf'));
  const fw = join(bm, 'fw.elf');
  const { image } = await ensureLinuxGuest();
  const kernel = readFileSync(image);
  const results: Record<string, unknown> = {};

  const ours = await runOurs(intmix, 'none', undefined, () => false);
  const instret = instretOf(ours.log);
  const oursMips = instret / ours.cpuMs / 1000;
  console.log(`intmix on hypernova: ${instret} instructions, ${(ours.cpuMs / 1000).toFixed(2)} s CPU, ${oursMips.toFixed(0)} MIPS`);

  const boot = await runOurs(kernel, 'builtin', 'console=ttyS0 quiet', (l) => l.includes('BOOT-OK'));
  console.log(`Linux to BOOT-OK on hypernova: ${(boot.wallMs / 1000).toFixed(2)} s wall, ${(boot.cpuMs / 1000).toFixed(2)} s CPU, ${boot.machine.hart.instret} instructions`);

  // Idle: after boot the init sleeps between heartbeats; measure 5 s of it.
  let idleCpu = 0;
  let idleStart = 0;
  await runOurs(kernel, 'builtin', 'console=ttyS0 quiet', (l) => {
    if (!idleStart && l.includes('heartbeat 1')) {
      idleStart = performance.now();
      idleCpu = cpuMs();
    }
    return idleStart > 0 && performance.now() - idleStart > 5000;
  });
  const idlePct = ((cpuMs() - idleCpu) / (performance.now() - idleStart)) * 100;
  console.log(`idle VM: ${idlePct.toFixed(2)} % of a core`);
  results.hypernova = { intmixInstructions: instret, intmixCpuS: ours.cpuMs / 1000, mips: oursMips, bootWallS: boot.wallMs / 1000, bootCpuS: boot.cpuMs / 1000, bootInstructions: boot.machine.hart.instret, idleCorePercent: idlePct };

  if (await qemuInstalled()) {
    const q = await runQemu(['-M', 'virt', '-cpu', QEMU_CPU, '-m', '128M', '-nographic', '-bios', 'none', '-kernel', join(bm, 'intmix.elf')], () => false);
    const qMips = instret / q.cpuMs / 1000;
    const qBoot = await runQemu(['-M', 'virt', '-cpu', QEMU_CPU, '-m', '128M', '-nographic', '-bios', fw, '-append', 'console=ttyS0 quiet', '-kernel', image], (l) => l.includes('BOOT-OK'));
    console.log(`intmix on QEMU: ${(q.cpuMs / 1000).toFixed(2)} s CPU, ${qMips.toFixed(0)} MIPS; hypernova/QEMU = ${(oursMips / qMips).toFixed(3)}`);
    console.log(`Linux to BOOT-OK on QEMU: ${(qBoot.wallMs / 1000).toFixed(2)} s wall; hypernova/QEMU = ${(boot.wallMs / qBoot.wallMs).toFixed(2)}x the time`);
    results.qemu = { mips: qMips, intmixCpuS: q.cpuMs / 1000, bootWallS: qBoot.wallMs / 1000 };
    results.ratios = { mips: oursMips / qMips, bootTime: boot.wallMs / qBoot.wallMs };
  } else {
    console.log(`${QEMU} not installed: no comparison`);
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'cpu.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, JSON.stringify({ date: new Date().toISOString(), ...results }, null, 2) + '\n');
  console.log(`results: ${out}`);
}

await main();
