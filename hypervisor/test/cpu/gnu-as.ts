// GNU as as the reference for the tests' own encoders.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Assembles `source` for `march` (ilp32) and returns its .text; undefined without riscv64-unknown-elf-as. */
function gnuAssemble(source: string, march: string): Buffer | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'hn-asm-'));
  try {
    const src = join(dir, 'a.s');
    writeFileSync(src, source);
    try {
      execFileSync('riscv64-unknown-elf-as', [`-march=${march}`, '-mabi=ilp32', '-o', join(dir, 'a.o'), src], {
        stdio: 'pipe',
      });
      execFileSync(
        'riscv64-unknown-elf-objcopy',
        ['-O', 'binary', '-j', '.text', join(dir, 'a.o'), join(dir, 'a.bin')],
        {
          stdio: 'pipe',
        },
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return readFileSync(join(dir, 'a.bin'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Tests an encoder: each case, [assembler text, encoding], against `known` words and against what
 * GNU as makes of the text for `march` after the `.option` lines, read in units of `width` bytes.
 */
export function checkAgainstGnuAs(
  cases: ReadonlyArray<readonly [string, number]>,
  known: Readonly<Record<string, number>>,
  as: { march: string; options: string[]; width: 2 | 4 },
): void {
  it('matches known encodings', () => {
    for (const [text, word] of cases) if (text in known) assert.equal(word, known[text], text);
  });
  it('matches GNU as for every case (skipped without riscv64-unknown-elf-as)', function () {
    const source = [...as.options.map((o) => `.option ${o}`), ...cases.map(([text]) => text), ''].join('\n');
    const bin = gnuAssemble(source, as.march);
    if (!bin) this.skip();
    assert.equal(bin.length, cases.length * as.width);
    cases.forEach(([text, word], i) =>
      assert.equal(word.toString(16), bin.readUIntLE(i * as.width, as.width).toString(16), text),
    );
  });
}
