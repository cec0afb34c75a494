// Host tools the boot tests compare against: dtc decompiles our blobs, QEMU dumps its own
// tree, the cross toolchain builds real ELF files. Tests skip when a tool is missing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const hasTool = (cmd: string): boolean => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'hypernova-boot-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `dtc -I dtb -O dts` of a blob: the source text and dtc's warnings. */
export function dtc(dtb: Uint8Array): { dts: string; warnings: string[]; status: number | null } {
  return withTmp((dir) => {
    const file = join(dir, 'x.dtb');
    writeFileSync(file, dtb);
    const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', file], { encoding: 'utf8' });
    return { dts: r.stdout, warnings: r.stderr.split('\n').filter((l) => l.trim() !== ''), status: r.status };
  });
}

/** QEMU 7.2 virt's own device tree for an rv32imac hart without F/D/H/Sstc/Zb*. */
export function qemuVirtDtb(opts: { memMiB: number; append: string; initrdBytes: number }): Uint8Array {
  return withTmp((dir) => {
    const kernel = join(dir, 'kernel.bin');
    const initrd = join(dir, 'initrd.bin');
    const out = join(dir, 'qemu.dtb');
    writeFileSync(kernel, new Uint8Array(4096));
    writeFileSync(initrd, new Uint8Array(opts.initrdBytes));
    const cpu = 'rv32,f=false,d=false,h=false,sstc=false,zba=false,zbb=false,zbc=false,zbs=false';
    const r = spawnSync(
      'qemu-system-riscv32',
      [
        '-M',
        `virt,dumpdtb=${out}`,
        '-cpu',
        cpu,
        '-m',
        `${opts.memMiB}M`,
        '-bios',
        'none',
        '-nographic',
        '-kernel',
        kernel,
        '-initrd',
        initrd,
        '-append',
        opts.append,
      ],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`qemu failed: ${r.stderr}`);
    return new Uint8Array(readFileSync(out));
  });
}
