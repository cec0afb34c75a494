// The lint rule that keeps packages behind their exports (eslint.config.js, packageSurfaces):
// ESLint itself, with the repository's config, on snippets placed inside the repository.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

/** The repository root (this file runs as test/dist/src/repo/package-surfaces.test.js). */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** The messages of no-restricted-imports for `code` as if it were the file `path`. */
async function restricted(path: string, code: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: root }).lintText(code, { filePath: join(root, path) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('package surfaces (lint)', function () {
  this.timeout(60_000);

  it("refuses an import of another package's dist/, src/ or test/", async () => {
    for (const spec of [
      '@hypernova/hypervisor/dist/src/block/index.js',
      '@hypernova/compute-node/src/vmm/index.js',
      '@hypernova/hypervisor/test/cpu/asm.js',
    ]) {
      const messages = await restricted('cli/src/snippet.ts', `export { x } from '${spec}';\n`);
      assert.equal(messages.length, 1, spec);
      assert.match(messages[0]!, /exported entries/);
    }
  });

  it('refuses a relative import that climbs out of its package', async () => {
    const code = "import { Machine } from '../../../hypervisor/src/index.js';\nexport { Machine };\n";
    const messages = await restricted('compute-node/src/agent/snippet.ts', code);
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /may not leave its package/);
  });

  it("accepts a package's exported entries and relative imports within the package", async () => {
    const code = [
      "import { Qcow2 } from '@hypernova/hypervisor/block';",
      "import { asm } from '@hypernova/hypervisor/testing';",
      "import { startComputeAgent } from '../../src/agent/app.js';",
      'export { Qcow2, asm, startComputeAgent };',
      '',
    ].join('\n');
    assert.deepEqual(await restricted('compute-node/test/agent/snippet.ts', code), []);
  });
});
