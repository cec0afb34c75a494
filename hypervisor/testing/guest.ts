// Running the Linux guest (guest/) with virtio devices on our Machine, and looking into
// the disk images it wrote from the host.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { ensureLinuxGuest } from '@hypernova/guest';
import { openDisk } from '../src/block/index.js';
import type { VirtioDevice } from '../src/devices/virtio/index.js';
import { Machine } from '../src/index.js';

/** `hn.run=` words for init (guest/init/README.md): each command is PROG,ARG,... */
export function runArgs(commands: string[]): string {
  return commands.map((c) => `hn.run=${c}`).join(' ');
}

/** Kernel command line for the initramfs as root: disks are plain block devices. */
export function initramfsAppend(...commands: string[]): string {
  return `console=ttyS0 quiet ${runArgs(commands)}`;
}

/** Kernel command line for the ext2 image on /dev/vda as root (the kernel mounts it, skipping the initramfs). */
export function rootAppend(...commands: string[]): string {
  return `console=ttyS0 quiet root=/dev/vda rw rdinit=/none ${runArgs(commands)}`;
}

export interface GuestRun {
  log: string;
  exitCode: number;
  timedOut: boolean;
  machine: Machine;
}

export interface GuestOptions {
  append: string;
  devices: VirtioDevice[];
  timeoutMs?: number;
  /** Each console chunk as it comes. */
  onOutput?: (text: string, machine: Machine) => void;
}

let kernel: Buffer | undefined;

/** Boots the Linux guest on a Machine (SBI served by the VMM) until it powers off or the timeout. */
export async function runGuest(o: GuestOptions): Promise<GuestRun> {
  kernel ??= readFileSync((await ensureLinuxGuest()).image);
  let log = '';
  let timedOut = false;
  // The console callback runs only once the machine runs, after this assignment.
  const machine: Machine = new Machine(
    { kernel, bios: 'builtin', append: o.append },
    {
      config: { memoryMiB: 128 },
      devices: o.devices,
      console: (b) => {
        const text = Buffer.from(b).toString('latin1');
        log += text;
        o.onOutput?.(text, machine);
      },
    },
  );
  const timer = setTimeout(() => {
    timedOut = true;
    machine.powerOffNow();
  }, o.timeoutMs ?? 120_000);
  try {
    const exit = await machine.run();
    return { log, exitCode: exit.code, timedOut, machine };
  } finally {
    clearTimeout(timer);
  }
}

/** The capture groups of the first line of `log` that `re` matches, or a failure showing the log. */
export function lineOf(log: string, re: RegExp): RegExpMatchArray {
  const m = re.exec(log);
  if (!m) throw new Error(`no line matching ${re} in the guest's console:\n${log}`);
  return m;
}

/** Writes the guest-visible content of a disk image (any format we open, with its backing chain) to a raw file. */
export function exportRaw(image: string, out: string): void {
  const disk = openDisk(image, { readOnly: true });
  const fd = openSync(out, 'w');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let off = 0; off < disk.sizeBytes; off += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, disk.sizeBytes - off));
      disk.read(off, part);
      writeSync(fd, part, 0, part.length, off);
    }
  } finally {
    closeSync(fd);
    disk.close();
  }
}

/** e2fsprogs live in /sbin on Debian, off a normal user's PATH. */
const E2FS_ENV = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };

/** A file's content from an ext2 file system in a raw image (debugfs reads it without mounting). */
export function readExt2File(rawImage: string, path: string, out: string): Buffer {
  const r = spawnSync('debugfs', ['-R', `dump ${path} ${out}`, rawImage], { encoding: 'utf8', env: E2FS_ENV });
  if (r.error) throw r.error;
  if (!existsSync(out)) throw new Error(`debugfs could not read ${path} from ${rawImage}: ${r.stderr}`);
  return readFileSync(out);
}

/** e2fsck -fn (check everything, change nothing): exit status and report. */
export function fsck(rawImage: string): { status: number; output: string } {
  const r = spawnSync('e2fsck', ['-fn', rawImage], { encoding: 'utf8', env: E2FS_ENV });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}
