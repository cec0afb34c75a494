/**
 * The guest on QEMU, the reference machine: `virt` with the same ISA as Hypernova's hart
 * and the project's SBI firmware fixture (Debian has no rv32 OpenSBI), for tests and
 * benchmarks that compare the two or exchange disk images between them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBaremetal } from './builds.js';

export const QEMU_SYSTEM = 'qemu-system-riscv32';
/** QEMU 7.2's default rv32 CPU has F/D, H, Sstc and Zb* beside IMAC: turn them off to match the hart. */
export const QEMU_CPU = 'rv32,f=false,d=false,h=false,sstc=false,zba=false,zbb=false,zbc=false,zbs=false';

let qemuFound: boolean | undefined;

/** Whether qemu-system-riscv32 (qemu-system-misc) is installed. */
export function hasQemu(): boolean {
  qemuFound ??= !spawnSync(QEMU_SYSTEM, ['--version']).error;
  return qemuFound;
}

/** The M-mode SBI firmware fixture QEMU boots the kernel through (`-bios`). */
export async function qemuFirmware(): Promise<string> {
  const dir = await ensureBaremetal();
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { firmware: string };
  return join(dir, manifest.firmware);
}

export interface QemuDrive {
  file: string;
  format: 'raw' | 'qcow2';
}

export interface QemuGuestOptions {
  kernel: string;
  append: string;
  /** Defaults to qemuFirmware(). */
  firmware?: string;
  memoryMiB?: number;
  /** virtio-blk disks, /dev/vda first. */
  drives?: QemuDrive[];
  /** More QEMU arguments (NICs, RNG). */
  extra?: string[];
  /** Kills QEMU after this long (default 120 s). */
  timeoutMs?: number;
  /** Console output as it comes. */
  onOutput?: (text: string) => void;
}

export interface QemuRun {
  code: number | null;
  /** Console and QEMU's own messages. */
  output: string;
  timedOut: boolean;
}

/** Boots the kernel on QEMU until it powers off (or the timeout kills it). */
export async function runQemuGuest(o: QemuGuestOptions): Promise<QemuRun> {
  const firmware = o.firmware ?? (await qemuFirmware());
  const args = ['-M', 'virt', '-cpu', QEMU_CPU, '-m', `${o.memoryMiB ?? 128}M`, '-nographic', '-bios', firmware];
  args.push('-kernel', o.kernel, '-append', o.append);
  (o.drives ?? []).forEach((d, i) => {
    // On virt, virtio-blk-device lands in the virtio-mmio slots; the guest sees vda, vdb, ... in this order.
    args.push(
      '-drive',
      `file=${d.file},if=none,format=${d.format},id=disk${i}`,
      '-device',
      `virtio-blk-device,drive=disk${i}`,
    );
  });
  args.push(...(o.extra ?? []));
  const qemu = spawn(QEMU_SYSTEM, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let timedOut = false;
  const take = (d: Buffer): void => {
    const text = d.toString('latin1');
    output += text;
    o.onOutput?.(text);
  };
  qemu.stdout.on('data', take);
  qemu.stderr.on('data', take);
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, o.timeoutMs ?? 120_000);
  return new Promise((resolve, reject) => {
    qemu.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    qemu.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}
