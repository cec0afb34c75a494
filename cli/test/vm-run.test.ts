// `hypernova vm run` as a user meets it: exit status from the guest, and clear errors for bad
// boot images before anything runs.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBaremetal } from '@hypernova/guest';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'hypernova.js');

function vmRun(args: string[]): { status: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, 'vm', 'run', '--console', 'none', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    input: '',
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

function hasCompiler(): boolean {
  return spawnSync('riscv64-unknown-elf-gcc', ['--version']).status === 0;
}

describe('hypernova vm run', function () {
  this.timeout(300_000);
  let dir: string;
  const tmp = mkdtempSync(join(tmpdir(), 'hn-vm-run-'));

  before(async () => {
    dir = await ensureBaremetal();
  });

  it('exits 0 when a bare-metal program reports success (HTIF)', () => {
    const r = vmRun(['--bios', 'none', '--kernel', join(dir, 'htif.elf'), '--memory', '64']);
    assert.equal(r.status, 0, r.err);
  });

  it('exits with the code a program reports through the syscon', function () {
    if (!hasCompiler()) this.skip();
    const src = join(tmp, 'fail.S');
    // Power off with failure code 7: (7 << 16) | 0x3333 written to the sifive_test device.
    // -N: one segment at the link address, no ELF headers loaded below RAM.
    writeFileSync(src, '.globl _start\n_start:\n  li t0, 0x100000\n  li t1, 0x73333\n  sw t1, 0(t0)\n1: j 1b\n');
    const elf = join(tmp, 'fail.elf');
    execFileSync('riscv64-unknown-elf-gcc', [
      '-march=rv32i',
      '-mabi=ilp32',
      '-nostdlib',
      '-Wl,-N',
      '-Wl,--no-warn-rwx-segments',
      '-Wl,-Ttext=0x80000000',
      '-o',
      elf,
      src,
    ]);
    const r = vmRun(['--bios', 'none', '--kernel', elf, '--memory', '64']);
    assert.equal(r.status, 7, r.err);
  });

  const bad: [string, () => string, RegExp][] = [
    [
      'a truncated ELF',
      () => {
        const f = join(tmp, 'trunc.elf');
        writeFileSync(f, readFileSync(join(dir, 'traps.elf')).subarray(0, 200));
        return f;
      },
      /truncat|beyond|outside|short/i,
    ],
    ['a non-RISC-V ELF', () => process.execPath, /RISC-V|machine|64-bit|class/i],
    [
      'a kernel larger than RAM',
      () => {
        const f = join(tmp, 'huge.bin');
        writeFileSync(f, Buffer.alloc(20 * 1024 * 1024, 1));
        return f;
      },
      /RAM|fit|larger/i,
    ],
  ];
  for (const [what, file, message] of bad) {
    it(`refuses ${what} with a clear error before the guest starts`, () => {
      const r = vmRun(['--kernel', file(), '--memory', '16']);
      assert.equal(r.status, 1);
      assert.match(r.err, message);
      assert.doesNotMatch(r.err, /at .*\.js:\d+/, 'no stack trace');
    });
  }

  it('refuses a bad device tree given with --dtb', () => {
    const f = join(tmp, 'bad.dtb');
    writeFileSync(f, Buffer.from('not a device tree at all'));
    const r = vmRun(['--bios', 'none', '--kernel', join(dir, 'htif.elf'), '--dtb', f, '--memory', '64']);
    assert.equal(r.status, 1);
    assert.match(r.err, /dtb|device tree/i);
  });

  it('refuses a missing kernel file and bad flags', () => {
    assert.match(vmRun(['--kernel', join(tmp, 'nope')]).err, /cannot read kernel/);
    assert.equal(vmRun(['--kernel', join(dir, 'htif.elf'), '--memory', 'lots']).status, 1);
  });
});
