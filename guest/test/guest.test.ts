import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureBaremetal, ensureLinuxGuest, guestDir } from '../src/index.js';

describe('guest: Linux build', function () {
  // A clean kernel build takes minutes; a cached one returns at once.
  this.timeout(30 * 60_000);

  it('is a RISC-V Linux Image of a sensible size', async () => {
    const { image, key } = await ensureLinuxGuest();
    assert.match(key, /^linux-[0-9a-f]{16}$/);
    const header = readFileSync(image).subarray(0, 64);
    // arch/riscv/include/asm/image.h: magic at 0x30, magic2 at 0x38, image size at 0x10.
    assert.equal(header.toString('latin1', 0x30, 0x38), 'RISCV\0\0\0');
    assert.equal(header.toString('latin1', 0x38, 0x3c), 'RSC\x05');
    const { size } = statSync(image);
    assert.ok(Number(header.readBigUInt64LE(0x10)) >= size, 'image_size covers the file');
    // ~4 MB trimmed; 20 MB and more means STRICT_KERNEL_RWX padding or =m turned =y.
    assert.ok(size > 2e6 && size < 8e6, `Image is ${size} bytes`);
  });

  it('returns the cached build, with the same key, on a second call', async () => {
    const first = await ensureLinuxGuest();
    const second = await ensureLinuxGuest();
    assert.deepEqual(second, first);
    assert.ok(existsSync(join(first.dir, 'bin', 'init')));
  });
});

describe('guest: Linux boot on QEMU (the reference machine)', function () {
  this.timeout(30 * 60_000);
  let image = '';
  let firmware = '';

  before(async function () {
    // The same firmware fixture our VMM can load: Debian ships no rv32 OpenSBI.
    if (spawnSync(QEMU, ['--version']).error || !existsSync(join(guestDir, 'baremetal', 'Makefile'))) this.skip();
    image = (await ensureLinuxGuest()).image;
    const baremetal = await ensureBaremetal();
    const manifest = JSON.parse(readFileSync(join(baremetal, 'manifest.json'), 'utf8')) as { firmware: string };
    firmware = join(baremetal, manifest.firmware);
  });

  it('prints BOOT-OK, heartbeats once a second, and powers off after hn.poweroff_after', async () => {
    const { code, output } = await boot(firmware, image, 'console=ttyS0 hn.poweroff_after=2');
    assert.equal(code, 0, output);
    assert.match(output, /\nBOOT-OK\r?\nheartbeat 1\r?\nheartbeat 2\r?\nhn: powering off\r?\n/, output);
    const [start, end] = ['Run /init', 'reboot: Power down'].map((s) => kernelTime(output, s));
    // Paced by the guest clock: never faster than 1/s; the upper bound only catches gross errors.
    assert.ok(end - start > 1.9 && end - start < 10, `2 heartbeats took ${end - start} s`);
  });

  it('dirties memory with hn.dirty_mib_s over hn.wss_mib, and finds it intact', async () => {
    const { code, output } = await boot(
      firmware,
      image,
      'console=ttyS0 hn.dirty_mib_s=8 hn.wss_mib=4 hn.poweroff_after=3',
    );
    assert.equal(code, 0, output);
    assert.match(output, /hn: dirtying 8 MiB\/s over 4 MiB/);
    // 3 s at 8 MiB/s go round the 4 MiB working set six times, checking each page.
    assert.match(output, /heartbeat 3/);
    assert.doesNotMatch(output, /MEMCHECK-FAIL/);
  });
});

const QEMU = 'qemu-system-riscv32';

/** Boots the guest under QEMU until it powers off (or 60 s pass); returns exit code and console. */
function boot(firmware: string, image: string, cmdline: string): Promise<{ code: number | null; output: string }> {
  const cpu = 'rv32,f=false,d=false,h=false,sstc=false,zba=false,zbb=false,zbc=false,zbs=false';
  const args = ['-M', 'virt', '-cpu', cpu, '-m', '64M', '-nographic', '-bios', firmware];
  const qemu = spawn(QEMU, [...args, '-kernel', image, '-append', cmdline], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  qemu.stdout.on('data', (d: Buffer) => (output += d.toString('latin1')));
  qemu.stderr.on('data', (d: Buffer) => (output += d.toString('latin1')));
  const timer = setTimeout(() => qemu.kill(), 60_000);
  return new Promise((resolve) => {
    qemu.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The printk timestamp, in seconds, of the kernel message containing `text`. */
function kernelTime(output: string, text: string): number {
  const line = output.split('\n').find((l) => l.includes(text));
  const time = line?.match(/^\[\s*(\d+\.\d+)\]/)?.[1];
  assert.ok(time, `no kernel message "${text}"`);
  return Number(time);
}
