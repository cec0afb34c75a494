import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestRam } from '../../src/bus/ram.js';
import { BootImageError, isElf, loadElf, parseElf } from '../../src/boot/elf.js';
import { buildElf } from '../../testing/elf-builder.js';
import { hasTool, withTmp } from './tools.js';

const RAM_BASE = 0x8000_0000;
const code = Uint8Array.from([0x13, 0, 0, 0, 0x6f, 0, 0, 0]); // nop; j .

describe('ELF loader', () => {
  it('loads PT_LOAD segments, zero-fills BSS and finds symbols', () => {
    const ram = new GuestRam(RAM_BASE, 0x10_0000);
    ram.bytes.fill(0xaa);
    const elf = buildElf({
      entry: RAM_BASE + 4,
      segments: [
        { paddr: RAM_BASE, data: code },
        { paddr: RAM_BASE + 0x1000, data: Uint8Array.from([1, 2, 3]), memsz: 0x100 },
      ],
      symbols: { tohost: RAM_BASE + 0x1000, fromhost: RAM_BASE + 0x1008 },
    });
    assert.ok(isElf(elf));
    const r = loadElf(ram, elf);
    assert.equal(r.entry, RAM_BASE + 4);
    assert.equal(r.symbols.get('tohost'), RAM_BASE + 0x1000);
    assert.equal(r.symbols.get('fromhost'), RAM_BASE + 0x1008);
    assert.equal(r.end, RAM_BASE + 0x1100);
    assert.deepEqual(ram.bytes.subarray(0, 8), code);
    assert.deepEqual(ram.bytes.subarray(0x1000, 0x1004), Uint8Array.from([1, 2, 3, 0]));
    assert.ok(
      ram.bytes.subarray(0x1003, 0x1100).every((x) => x === 0),
      'BSS zeroed',
    );
    assert.equal(ram.bytes[0x1100], 0xaa, 'nothing past memsz');
  });

  it('reports the RISC-V flags that matter to this CPU', () => {
    const info = parseElf(buildElf({ flags: 0x5, segments: [{ paddr: RAM_BASE, data: code }] }));
    assert.equal(info.rvc, true);
    assert.equal(info.floatAbi, 2);
    assert.equal(info.symbols.size, 0, 'stripped: no symbols');
  });

  it('refuses a segment that does not fit in RAM, naming both ranges', () => {
    const ram = new GuestRam(RAM_BASE, 0x10_0000);
    const big = buildElf({ segments: [{ paddr: RAM_BASE + 0xf_f000, data: code, memsz: 0x2000 }] });
    assert.throws(
      () => loadElf(ram, big),
      /segment at 0x800ff000 size 8192 does not fit in RAM 0x80000000\.\.0x80100000/,
    );
    const low = buildElf({ segments: [{ paddr: 0x1000, data: code }] });
    assert.throws(() => loadElf(ram, low), /segment at 0x1000 size 8 does not fit in RAM/);
    assert.ok(
      ram.bytes.every((x) => x === 0),
      'nothing copied when a segment does not fit',
    );
  });

  it('says what a foreign or damaged file is', () => {
    const ok = { segments: [{ paddr: RAM_BASE, data: code }], symbols: { tohost: RAM_BASE } };
    const cases: Array<[Uint8Array, RegExp]> = [
      [new TextEncoder().encode('#!/bin/sh\necho hi\n'), /not an ELF file/],
      [buildElf({ ...ok, machine: 62, elfClass: 2 }), /ELF for x86-64, not RISC-V \(e_machine 62, expected 243\)/],
      [buildElf({ ...ok, machine: 183, elfClass: 2 }), /ELF for AArch64, not RISC-V/],
      [buildElf({ ...ok, elfClass: 2 }), /64-bit RISC-V ELF \(RV64\)/],
      [buildElf({ ...ok, dataEncoding: 2 }), /big-endian/],
      [buildElf({ ...ok, type: 3 }), /shared object or PIE, not an executable/],
      [buildElf({ ...ok, type: 1 }), /relocatable object/],
      [buildElf({ segments: [] }), /no program headers/],
      [buildElf(ok).subarray(0, 40), /truncated ELF: 40 bytes/],
      [
        buildElf(ok).subarray(0, 70),
        /truncated ELF: 1 program headers at 0x34 run past the end of the file \(70 bytes\)/,
      ],
      [buildElf(ok).subarray(0, 90), /truncated ELF: segment 0 \(8 bytes at file offset 0x54\) runs past the end/],
      [buildElf(ok).subarray(0, buildElf(ok).length - 10), /truncated ELF: section headers/],
    ];
    for (const [bytes, message] of cases) {
      assert.throws(
        () => parseElf(bytes),
        (e: Error) => e instanceof BootImageError && message.test(e.message),
        `${message}`,
      );
    }
  });

  it('names the machine of the host’s own executable', function () {
    const self = new Uint8Array(64); // the header is enough to name the machine
    const fd = openSync(process.execPath, 'r');
    readSync(fd, self, 0, self.length, 0);
    closeSync(fd);
    if (!isElf(self)) this.skip();
    assert.throws(() => parseElf(self), /ELF for (x86-64|AArch64|[\w-]+), not RISC-V/);
  });

  it('loads a program built by the RISC-V toolchain, with its HTIF symbols', function () {
    if (!hasTool('riscv64-unknown-elf-gcc')) this.skip();
    this.timeout(30_000);
    const elf = withTmp((dir) => {
      const src = join(dir, 't.S');
      const out = join(dir, 't.elf');
      const script = join(dir, 'link.ld');
      // As riscv-tests link: code at the start of RAM, HTIF words on their own page.
      writeFileSync(
        script,
        'OUTPUT_ARCH(riscv) ENTRY(_start) SECTIONS { . = 0x80000000; .text : { *(.text.init) *(.text) } ' +
          '. = ALIGN(0x1000); .tohost : { *(.tohost) } .bss : { *(.bss) } }',
      );
      writeFileSync(
        src,
        [
          '.section .text.init, "ax"',
          '.globl _start',
          '_start: la t0, tohost',
          '  li t1, 1',
          '  sw t1, 0(t0)',
          '  sw zero, 4(t0)',
          '1: j 1b',
          '.section .tohost, "aw", @progbits',
          '.align 6',
          '.globl tohost',
          'tohost: .dword 0',
          '.globl fromhost',
          'fromhost: .dword 0',
          '.bss',
          'scratch: .space 4096',
          '',
        ].join('\n'),
      );
      const r = spawnSync(
        'riscv64-unknown-elf-gcc',
        ['-march=rv32ima_zicsr', '-mabi=ilp32', '-nostdlib', '-nostartfiles', '-T', script, '-o', out, src],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(r.stderr);
      return new Uint8Array(readFileSync(out));
    });
    const ram = new GuestRam(RAM_BASE, 0x10_0000);
    const r = loadElf(ram, elf);
    assert.equal(r.entry, RAM_BASE);
    const tohost = r.symbols.get('tohost')!;
    assert.ok(tohost >= RAM_BASE && tohost % 64 === 0);
    assert.equal(r.symbols.get('fromhost'), tohost + 8);
    assert.equal(ram.view.getUint32(0, true) & 0x7f, 0x17, 'auipc of `la` at the entry');
    assert.equal(parseElf(elf).rvc, false);
  });
});
